# clubSandwich twin of harness/core/cr2.py: CR2 vcov, Satterthwaite t tests and the
# HTZ Wald test on a metafor::rma.uni fit with a cluster variable.
#
# data: named list with yi, vi, cluster (and optional weights); mods/factors/levels as
# in robumeta.R. wald: names of the coefficients tested jointly (HTZ); empty = none.

mh_cr2 <- function(data, mods = list(), factors = character(0), levels = list(),
                   method = "REML", intercept = TRUE, level = 95, threshold = 1e-12,
                   maxiter = 1000L, wald = character(0)) {
  md <- if (length(mods)) mh_frame(mods) else data.frame(row.names = seq_along(data$yi))
  for (f in factors) md[[f]] <- factor(md[[f]], levels = levels[[f]])
  md$.mh_yi <- as.numeric(data$yi)
  md$.mh_vi <- as.numeric(data$vi)
  control <- list(threshold = threshold, maxiter = as.integer(maxiter))
  args <- list(yi = as.name(".mh_yi"), vi = as.name(".mh_vi"), data = md, method = method,
               control = control)
  if (length(mods)) args$mods <- mh_formula(names(mods), intercept) else args$intercept <- intercept
  if (!is.null(data$weights)) {
    md$.mh_w <- as.numeric(data$weights)
    args$data <- md
    args$weights <- as.name(".mh_w")
  }
  fit <- do.call(metafor::rma.uni, args)
  c(mh_cr2_tests(fit, data$cluster, level, wald), list(tau2 = as.numeric(fit$tau2)))
}

# rma.mv with a random intercept per cluster (random = ~ 1 | cluster); sigma2 fixed
# (a number) or estimated by REML (NULL), then clubSandwich CR2 as above.
mh_cr2_mv <- function(data, mods = list(), factors = character(0), levels = list(),
                      sigma2 = NULL, intercept = TRUE, level = 95, wald = character(0)) {
  md <- if (length(mods)) mh_frame(mods) else data.frame(row.names = seq_along(data$yi))
  for (f in factors) md[[f]] <- factor(md[[f]], levels = levels[[f]])
  md$.mh_yi <- as.numeric(data$yi)
  md$.mh_vi <- as.numeric(data$vi)
  md$.mh_cluster <- data$cluster
  args <- list(yi = as.name(".mh_yi"), V = as.name(".mh_vi"), data = md, method = "REML",
               random = stats::as.formula(call("~", call("|", 1, as.name(".mh_cluster"))), env = baseenv()))
  if (length(mods)) args$mods <- mh_formula(names(mods), intercept) else args$intercept <- intercept
  if (!is.null(sigma2)) args$sigma2 <- sigma2
  fit <- do.call(metafor::rma.mv, args)
  c(mh_cr2_tests(fit, md$.mh_cluster, level, wald), list(sigma2 = as.numeric(fit$sigma2)))
}

# clubSandwich CR2 on a fitted rma.uni/rma.mv model: Satterthwaite coef_test,
# conf_int, the CR2 vcov, and (when `wald` names coefficients) the HTZ Wald test.
mh_cr2_tests <- function(fit, cl, level, wald) {
  ct <- clubSandwich::coef_test(fit, vcov = "CR2", cluster = cl, test = "Satterthwaite")
  ci <- clubSandwich::conf_int(fit, vcov = "CR2", cluster = cl, level = level / 100)
  V <- clubSandwich::vcovCR(fit, cluster = cl, type = "CR2")
  out <- list(coef_names = rownames(fit$beta), beta = as.numeric(ct$beta), SE = as.numeric(ct$SE),
              tstat = as.numeric(ct$tstat), df_Satt = as.numeric(ct$df_Satt),
              p_Satt = as.numeric(ct$p_Satt), CI_L = as.numeric(ci$CI_L), CI_U = as.numeric(ci$CI_U),
              vcov = as.numeric(V))
  if (length(wald)) {
    wt <- clubSandwich::Wald_test(fit, constraints = clubSandwich::constrain_zero(wald),
                                  vcov = "CR2", cluster = cl, test = "HTZ")
    out$Fstat <- as.numeric(wt$Fstat); out$delta <- as.numeric(wt$delta)
    out$df_num <- as.numeric(wt$df_num); out$df_denom <- as.numeric(wt$df_denom)
    out$p_val <- as.numeric(wt$p_val)
  }
  out
}
