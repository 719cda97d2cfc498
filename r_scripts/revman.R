# RevMan 5 conventions computed in R, fitted with metafor: the R twin of
# harness/core/revman.py (analysis kinds "revman" and "revman-subgroup", and
# `metaharness audit`).
#
# RevMan's effect sizes are computed here from the raw columns with RevMan's
# formulas (Deeks & Higgins 2010), independently of the Python code:
#   MD:  yi = m1 - m2, SE^2 = sd1^2/n1 + sd2^2/n2
#   SMD: g = d (1 - 3/(4N - 9)), SE^2 = N/(n1 n2) + g^2/(2(N - 3.94))
# and pooled with metafor::rma(yi, sei = SE, method = "FE" / "DL").

mh_revman_es <- function(data, measure) {
  if (measure == "GEN") {
    sei <- if (!is.null(data$sei)) as.numeric(data$sei) else sqrt(as.numeric(data$vi))
    return(list(yi = as.numeric(data$yi), sei = sei))
  }
  m1 <- as.numeric(data$m1i); sd1 <- as.numeric(data$sd1i); n1 <- as.numeric(data$n1i)
  m2 <- as.numeric(data$m2i); sd2 <- as.numeric(data$sd2i); n2 <- as.numeric(data$n2i)
  if (measure == "MD") {
    return(list(yi = m1 - m2, sei = sqrt(sd1^2 / n1 + sd2^2 / n2)))
  }
  if (measure == "SMD") {
    N <- n1 + n2
    sp <- sqrt(((n1 - 1) * sd1^2 + (n2 - 1) * sd2^2) / (N - 2))
    g <- (m1 - m2) / sp * (1 - 3 / (4 * N - 9))
    return(list(yi = g, sei = sqrt(N / (n1 * n2) + g^2 / (2 * (N - 3.94)))))
  }
  stop("measure must be MD, SMD or GEN for RevMan conventions, not ", measure)
}

mh_revman_fit <- function(yi, sei, model, method = NULL) {
  if (is.null(method)) method <- if (model == "fixed") "FE" else "DL"
  metafor::rma(yi = yi, sei = sei, method = method,
               control = list(threshold = 1e-12, maxiter = 1000L))
}

# Overall analysis: per-study effects, pooled estimate, heterogeneity.
# `method` (optional) replaces RevMan's estimator, e.g. "REML" for robustness runs.
mh_revman <- function(data, measure = "SMD", model = "random", method = NULL) {
  es <- mh_revman_es(data, measure)
  fit <- mh_revman_fit(es$yi, es$sei, model, method)
  fe <- metafor::rma(yi = es$yi, sei = es$sei, method = "FE")  # RevMan's Chi^2 is always the IV Q
  df <- length(es$yi) - 1
  list(yi = es$yi, sei = es$sei,
       estimate = as.numeric(fit$beta), se = as.numeric(fit$se),
       ci_lb = fit$ci.lb, ci_ub = fit$ci.ub, z = fit$zval, p = fit$pval,
       chi2 = fe$QE, df = df, p_chi2 = if (df > 0) fe$QEp else NA_real_,
       i2 = if (df > 0) max(0, (fe$QE - df) / fe$QE) * 100 else NA_real_,
       i2_metafor = fit$I2, tau2 = fit$tau2,
       weights = as.numeric(stats::weights(fit)), k = fit$k)
}

# Test for subgroup differences: RevMan's tests through their metafor counterparts.
#  fixed:  QM of the FE meta-regression on the subgroup factor
#          (= RevMan's Q_total - sum Q_j);
#  random: separate DL fit per subgroup (own tau^2), then
#          rma(b_j, sei = se_j, method = "FE")$QE  (= RevMan's random-effects test);
#  mixed:  QM of rma(yi, sei, mods = ~ factor(group), method = "DL"), one common
#          tau^2 -- metafor's usual test, NOT what RevMan reports.
mh_revman_subgroup <- function(data, group, measure = "SMD", model = "random") {
  es <- mh_revman_es(data, measure)
  g <- factor(as.character(group), levels = unique(as.character(group)))
  df <- data.frame(.mh_yi = es$yi, .mh_sei = es$sei, .mh_g = g)
  fe_reg <- metafor::rma(yi = .mh_yi, sei = .mh_sei, mods = ~ .mh_g, data = df, method = "FE")
  me_reg <- metafor::rma(yi = .mh_yi, sei = .mh_sei, mods = ~ .mh_g, data = df, method = "DL")
  per <- lapply(levels(g), function(l) {
    s <- g == l
    list(re = metafor::rma(yi = es$yi[s], sei = es$sei[s], method = "DL"),
         fe = metafor::rma(yi = es$yi[s], sei = es$sei[s], method = "FE"))
  })
  b_re <- sapply(per, function(p) as.numeric(p$re$beta)); s_re <- sapply(per, function(p) as.numeric(p$re$se))
  b_fe <- sapply(per, function(p) as.numeric(p$fe$beta)); s_fe <- sapply(per, function(p) as.numeric(p$fe$se))
  sep_re <- metafor::rma(yi = b_re, sei = s_re, method = "FE")
  sep_fe <- metafor::rma(yi = b_fe, sei = s_fe, method = "FE")
  # what RevMan prints on the forest plot: the total over all studies (one analysis, ignoring
  # the subgroups), whose weights are the studies' displayed weights, and per subgroup its
  # heterogeneity (IV Q around the FE estimate), its Z test and its weight (sum of its studies')
  total <- mh_revman(data, measure, model)
  fit_of <- function(p) if (model == "fixed") p$fe else p$re
  sub_q <- sapply(per, function(p) p$fe$QE)
  sub_k <- sapply(per, function(p) p$fe$k)
  sub_df <- sub_k - 1
  list(levels = levels(g),
       chi2_fixed = fe_reg$QM, chi2_fixed_sep = sep_fe$QE,
       chi2_random = sep_re$QE, df = length(levels(g)) - 1,
       p_fixed = fe_reg$QMp, p_random = sep_re$QEp,
       QM_mixed = me_reg$QM, QMp_mixed = me_reg$QMp, tau2_mixed = me_reg$tau2,
       estimate_random = b_re, se_random = s_re,
       tau2_random = sapply(per, function(p) p$re$tau2),
       estimate_fixed = b_fe, se_fixed = s_fe,
       k = sapply(per, function(p) p$re$k),
       yi = total$yi, sei = total$sei, weights = total$weights,
       sub_chi2 = sub_q, sub_df = sub_df,
       sub_p_chi2 = ifelse(sub_df > 0, sapply(per, function(p) p$fe$QEp), NA_real_),
       sub_i2 = ifelse(sub_df > 0, pmax(0, (sub_q - sub_df) / sub_q) * 100, NA_real_),
       sub_z = sapply(per, function(p) as.numeric(fit_of(p)$zval)),
       sub_p = sapply(per, function(p) as.numeric(fit_of(p)$pval)),
       sub_weight = sapply(levels(g), function(l) sum(total$weights[g == l])),
       total_estimate = total$estimate, total_se = total$se, total_ci_lb = total$ci_lb, total_ci_ub = total$ci_ub,
       total_z = total$z, total_p = total$p, total_chi2 = total$chi2, total_df = total$df,
       total_p_chi2 = total$p_chi2, total_i2 = total$i2, total_tau2 = total$tau2)
}
