# metafor twin of the Python core: escalc + rma.uni on the raw columns.
#
# data: named list with m1i sd1i n1i m2i sd2i n2i, or yi and vi/sei
# mods: named list of moderator columns (names are used as symbols only)
# The returned list is flat: numbers, numeric vectors, character vectors.

mh_escalc <- function(data, measure, vtype = "LS") {
  if (measure == "GEN") {
    yi <- as.numeric(data$yi)
    vi <- if (!is.null(data$vi)) as.numeric(data$vi) else as.numeric(data$sei)^2
    return(list(yi = yi, vi = vi))
  }
  es <- metafor::escalc(measure = measure, m1i = data$m1i, sd1i = data$sd1i, n1i = data$n1i,
                        m2i = data$m2i, sd2i = data$sd2i, n2i = data$n2i, vtype = vtype)
  list(yi = as.numeric(es$yi), vi = as.numeric(es$vi))
}

mh_rma_fields <- function(fit, es) {
  list(
    yi = es$yi, vi = es$vi,
    coef_names = rownames(fit$beta),
    beta = as.numeric(fit$beta), se = as.numeric(fit$se), zval = as.numeric(fit$zval),
    pval = as.numeric(fit$pval), ci_lb = as.numeric(fit$ci.lb), ci_ub = as.numeric(fit$ci.ub),
    vb = as.numeric(fit$vb),
    tau2 = as.numeric(fit$tau2), se_tau2 = as.numeric(fit$se.tau2),
    QE = as.numeric(fit$QE), QEp = as.numeric(fit$QEp),
    I2 = as.numeric(fit$I2), H2 = as.numeric(fit$H2), vt = as.numeric(fit$vt),
    QM = as.numeric(fit$QM), QMp = as.numeric(fit$QMp), QMdf = as.numeric(fit$QMdf),
    k = fit$k, p = fit$p, ddf = as.numeric(fit$ddf),
    weights = as.numeric(stats::weights(fit))
  )
}

mh_rma <- function(data, mods = list(), measure = "SMD", vtype = "LS", method = "REML",
                   test = "z", level = 95, intercept = TRUE, threshold = 1e-12,
                   maxiter = 1000L) {
  es <- mh_escalc(data, measure, vtype)
  control <- list(threshold = threshold, maxiter = as.integer(maxiter))
  if (length(mods)) {
    # yi and vi travel inside the data frame under names no moderator can take
    # (moderator names must start with a letter), so that nothing in `data`
    # can shadow them.
    md <- mh_frame(mods)
    md$.mh_yi <- es$yi
    md$.mh_vi <- es$vi
    fit <- metafor::rma.uni(.mh_yi, .mh_vi, mods = mh_formula(names(mods), intercept), data = md,
                            method = method, test = test, level = level, control = control)
  } else {
    fit <- metafor::rma.uni(es$yi, es$vi, method = method, test = test, level = level,
                            intercept = intercept, control = control)
  }
  mh_rma_fields(fit, es)
}
