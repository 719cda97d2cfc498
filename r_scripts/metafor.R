# metafor twin of the Python core: escalc + rma.uni on the raw columns.
#
# data: named list with m1i sd1i n1i m2i sd2i n2i, or yi and vi/sei
# mods: named list of moderator columns (names are used as symbols only)
# The returned list is flat: numbers, numeric vectors, character vectors.

# Capabilities of the loaded metafor, detected from its functions (never from its
# version string): each is TRUE when this metafor has the feature.
mh_metafor_has <- function(what) {
  switch(what,
    # escalc(correct=) (metafor 4.8-0 on)
    escalc_correct = "correct" %in% names(formals(metafor::escalc)),
    # escalc(pi=): p-values of the t-tests (4.8-0 on)
    escalc_pi = "pi" %in% names(formals(metafor::escalc)),
    # trimfill refits with the model's own control (4.8-0 on: `control = x$control`
    # in its body); then passing `control` again is an error ("matched by multiple
    # actual arguments")
    trimfill_uses_model_control = "control" %in% all.names(body(utils::getFromNamespace("trimfill.rma.uni", "metafor"))),
    stop("unknown capability: ", what))
}

mh_escalc <- function(data, measure, vtype = "LS", correct = NULL, add = 0.5, to = "only0", drop00 = FALSE) {
  # 2x2 tables (binary.R): escalc with metafor's zero-cell arguments
  if (measure %in% c("OR", "RR", "RD", "PETO")) return(mh_escalc_binary(data, measure, vtype, add, to, drop00))
  # `correct` is passed only when asked for, and only to an escalc that has it
  # (metafor 3.8-1's would disregard it with a warning)
  extra <- list()
  if (!is.null(correct)) {
    if (!mh_metafor_has("escalc_correct"))
      stop("this metafor's escalc() has no 'correct' argument (metafor >= 4.8-0 has it)")
    extra$correct <- as.logical(correct)
  }
  if (measure == "GEN") {
    if (!is.null(data$vi)) {
      es <- metafor::escalc(measure = "GEN", yi = as.numeric(data$yi), vi = as.numeric(data$vi))
    } else {
      es <- metafor::escalc(measure = "GEN", yi = as.numeric(data$yi), sei = as.numeric(data$sei))
    }
  } else if (!is.null(data$ti)) {
    es <- do.call(metafor::escalc, c(list(measure = measure, ti = data$ti, n1i = data$n1i, n2i = data$n2i, vtype = vtype), extra))
  } else if (!is.null(data$di)) {
    es <- do.call(metafor::escalc, c(list(measure = measure, di = data$di, n1i = data$n1i, n2i = data$n2i, vtype = vtype), extra))
  } else if (!is.null(data$pi)) {
    if (!mh_metafor_has("escalc_pi"))
      stop("this metafor's escalc() has no 'pi' argument (p-values; metafor >= 4.8-0 has it)")
    es <- do.call(metafor::escalc, c(list(measure = measure, pi = data$pi, n1i = data$n1i, n2i = data$n2i, vtype = vtype), extra))
  } else {
    es <- do.call(metafor::escalc, c(list(measure = measure, m1i = data$m1i, sd1i = data$sd1i, n1i = data$n1i,
                                          m2i = data$m2i, sd2i = data$sd2i, n2i = data$n2i, vtype = vtype), extra))
  }
  # per-study CI as summary.escalc gives it (normal quantile, level 95)
  s <- summary(es)
  if (measure == "GEN") {
    # given values go to rma.uni untouched (escalc would turn a negative vi
    # into NA; rma.uni must see it and refuse as it does)
    return(list(yi = as.numeric(data$yi),
                vi = if (!is.null(data$vi)) as.numeric(data$vi) else as.numeric(data$sei)^2,
                ci_lb = as.numeric(s$ci.lb), ci_ub = as.numeric(s$ci.ub)))
  }
  list(yi = as.numeric(es$yi), vi = as.numeric(es$vi), ci_lb = as.numeric(s$ci.lb), ci_ub = as.numeric(s$ci.ub))
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
    R2 = if (is.null(fit$R2)) NA_real_ else as.numeric(fit$R2),
    weights = as.numeric(stats::weights(fit))
  )
}

# The control list both engines share: threshold/maxiter always, tol only when given.
mh_control <- function(threshold, maxiter, tol = NULL) {
  control <- list(threshold = threshold, maxiter = as.integer(maxiter))
  if (!is.null(tol)) control$tol <- tol
  control
}

# Moderator data frame: columns named in `factors` become factors with the
# level order given by Python (so both engines code the same dummies).
mh_mods_frame <- function(mods, factors = list()) {
  md <- mh_frame(mods)
  for (f in names(factors)) md[[f]] <- factor(as.character(md[[f]]), levels = as.character(factors[[f]]))
  md
}

mh_fit <- function(es, mods, factors, method, test, level, intercept, control, weights = NULL) {
  if (length(mods)) {
    # yi, vi and weights travel inside the data frame under names no moderator
    # can take (moderator names must start with a letter), so that nothing in
    # `data` can shadow them.
    md <- mh_mods_frame(mods, factors)
    md$.mh_yi <- es$yi
    md$.mh_vi <- es$vi
    md$.mh_w <- if (is.null(weights)) rep(NA_real_, length(es$yi)) else weights
    if (is.null(weights)) {
      metafor::rma.uni(.mh_yi, .mh_vi, mods = mh_formula(names(mods), intercept), data = md,
                       method = method, test = test, level = level, control = control)
    } else {
      metafor::rma.uni(.mh_yi, .mh_vi, weights = .mh_w, mods = mh_formula(names(mods), intercept), data = md,
                       method = method, test = test, level = level, control = control)
    }
  } else {
    if (is.null(weights)) {
      metafor::rma.uni(es$yi, es$vi, method = method, test = test, level = level,
                       intercept = intercept, control = control)
    } else {
      metafor::rma.uni(es$yi, es$vi, weights = weights, method = method, test = test, level = level,
                       intercept = intercept, control = control)
    }
  }
}

mh_rma <- function(data, mods = list(), factors = list(), measure = "SMD", vtype = "LS", method = "REML",
                   test = "z", level = 95, intercept = TRUE, threshold = 1e-12,
                   maxiter = 1000L, tol = NULL, weights = NULL, extras = character(0),
                   newmods = NULL, newmods_ncol = 1L, confint_tol = 1e-12, correct = NULL,
                   add = 0.5, to = "only0", drop00 = FALSE) {
  es <- mh_escalc(data, measure, vtype, correct, add, to, drop00)
  if (!is.null(newmods)) newmods <- matrix(newmods, ncol = as.integer(newmods_ncol), byrow = TRUE)
  control <- mh_control(threshold, maxiter, tol)
  fit <- mh_fit(es, mods, factors, method, test, level, intercept, control, weights)
  out <- mh_rma_fields(fit, es)
  out$ci_lb_i <- es$ci_lb
  out$ci_ub_i <- es$ci_ub
  # the studies fitted (rma.uni leaves out NA yi/vi: 2x2 tables with to = "none" or drop00)
  out$not_na <- as.logical(fit$not.na)
  # ratio measures of 2x2 tables, intercept only: the pooled estimate as the reader sees it
  if (measure %in% c("OR", "RR", "PETO") && length(mods) == 0L && isTRUE(intercept)) {
    p <- stats::predict(fit, transf = exp)
    out$transf <- list(pred = as.numeric(p$pred), ci_lb = as.numeric(p$ci.lb), ci_ub = as.numeric(p$ci.ub),
                       pi_lb = as.numeric(p$pi.lb), pi_ub = as.numeric(p$pi.ub))
  }
  for (x in extras) out[[x]] <- mh_call_extra(x, fit, newmods, control, confint_tol)
  out
}

# One post-fitting function, its error (if any) kept as text so that the
# model quantities are still compared.
mh_call_extra <- function(what, fit, newmods, control, confint_tol) {
  tryCatch(switch(what,
    predict = mh_predict(fit, newmods),
    confint = mh_confint(fit, confint_tol),
    confint_wald = mh_confint(fit, confint_tol, type = "Wald"),
    leave1out = mh_leave1out(fit),
    regtest = mh_regtest(fit),
    trimfill_L0 = mh_trimfill(fit, "L0", control),
    trimfill_R0 = mh_trimfill(fit, "R0", control),
    stop("unknown extra: ", what)),
    error = function(e) list(error = conditionMessage(e)))
}

mh_predict <- function(fit, newmods = NULL) {
  p <- if (is.null(newmods)) stats::predict(fit) else stats::predict(fit, newmods = newmods)
  list(pred = as.numeric(p$pred), se = as.numeric(p$se), ci_lb = as.numeric(p$ci.lb),
       ci_ub = as.numeric(p$ci.ub), pi_lb = as.numeric(p$pi.lb), pi_ub = as.numeric(p$pi.ub))
}

# type "QP" (Q-profile, the default) or "Wald"; "Wald" is spelled so that every
# release takes it (3.8-1 matches the type case-sensitively)
mh_confint <- function(fit, tol = 1e-12, type = NULL) {
  ci <- if (is.null(type)) stats::confint(fit, control = list(tol = tol)) else stats::confint(fit, type = type)
  r <- ci$random
  list(tau2 = as.numeric(r["tau^2", ]), I2 = as.numeric(r["I^2(%)", ]), H2 = as.numeric(r["H^2", ]),
       lb_sign = ci$lb.sign, ub_sign = ci$ub.sign)
}

mh_leave1out <- function(fit) {
  l <- metafor::leave1out(fit)
  out <- list(estimate = as.numeric(l$estimate), se = as.numeric(l$se),
              zval = as.numeric(if (is.null(l$zval)) l$tval else l$zval), pval = as.numeric(l$pval),
              ci_lb = as.numeric(l$ci.lb), ci_ub = as.numeric(l$ci.ub), Q = as.numeric(l$Q),
              Qp = as.numeric(l$Qp), I2 = as.numeric(l$I2), H2 = as.numeric(l$H2))
  if (!is.null(l$tau2)) out$tau2 <- as.numeric(l$tau2)
  out
}

mh_regtest <- function(fit) {
  r <- metafor::regtest(fit)
  list(zval = as.numeric(r$zval), pval = as.numeric(r$pval), ddf = as.numeric(r$ddf),
       est = as.numeric(r$est), ci_lb = as.numeric(r$ci.lb), ci_ub = as.numeric(r$ci.ub))
}

# trimfill: every internal rma.uni refit must use the model's control (threshold,
# maxiter, tol), else metafor 3.8-1 fits them with its default, loose control.
# A trimfill that forwards the model's control itself (metafor >= 4.8-0) gets
# nothing more (a second `control` is an error there); an older one gets it
# through `...`. fit$control is the control the model was fitted with, so both
# paths refit with the same settings.
mh_trimfill <- function(fit, estimator, control) {
  t <- if (mh_metafor_has("trimfill_uses_model_control")) {
    metafor::trimfill(fit, estimator = estimator)
  } else {
    metafor::trimfill(fit, estimator = estimator, control = control)
  }
  list(k0 = as.numeric(t$k0), se_k0 = as.numeric(t$se.k0), side = t$side,
       p_k0 = as.numeric(if (is.null(t$p.k0)) NA else t$p.k0),
       beta = as.numeric(t$beta), se = as.numeric(t$se), zval = as.numeric(t$zval),
       pval = as.numeric(t$pval), ci_lb = as.numeric(t$ci.lb), ci_ub = as.numeric(t$ci.ub),
       tau2 = as.numeric(t$tau2), se_tau2 = as.numeric(t$se.tau2), QE = as.numeric(t$QE),
       QEp = as.numeric(t$QEp), I2 = as.numeric(t$I2), H2 = as.numeric(t$H2), k = as.numeric(t$k),
       test = t$test, yi = as.numeric(t$yi), vi = as.numeric(t$vi))
}
