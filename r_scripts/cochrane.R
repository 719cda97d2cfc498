# metafor side of the Cochrane review re-verification (harness/cochrane/reverify.py).
#
# One continuous analysis: per-study effects, the pooled result overall and per
# subgroup, and the test for subgroup differences, computed with metafor.
# smd = "revman": RevMan 5's SMD written out here (Hedges' g with the
#   approximate correction 1 - 3/(4N - 9), SE^2 = N/(n1 n2) + g^2/(2(N - 3.94));
#   Deeks & Higgins 2010; meta::metacont(exact.smd = FALSE));
# smd = "metafor": escalc(measure = "SMD") (exact correction, metafor's variance).
# Pooling is metafor::rma.uni with the given method/test; heterogeneity Q,
# its p and I^2 come from the same data fitted with method = "FE" when
# i2_from = "Q" (RevMan 5), else from the fit itself (I^2 from tau^2).
# Study weights are percent of the overall fit (RevMan's convention), or of
# each subgroup's fit when weights_within = TRUE (RevMan's TOTALS = "SUB");
# a subgroup's weight is the sum of its studies' weights.

mh_cochrane_es <- function(m1i, sd1i, n1i, m2i, sd2i, n2i, measure, smd) {
  if (measure == "MD") {
    es <- metafor::escalc(measure = "MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, vtype = "LS")
    return(list(yi = as.numeric(es$yi), vi = as.numeric(es$vi)))
  }
  if (smd == "metafor") {
    es <- metafor::escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i)
    return(list(yi = as.numeric(es$yi), vi = as.numeric(es$vi)))
  }
  N <- n1i + n2i
  sp <- sqrt(((n1i - 1) * sd1i^2 + (n2i - 1) * sd2i^2) / (N - 2))
  g <- (m1i - m2i) / sp * (1 - 3 / (4 * N - 9))
  list(yi = g, vi = N / (n1i * n2i) + g^2 / (2 * (N - 3.94)))
}

mh_cochrane_pool <- function(yi, vi, method, test, level, i2_from, prediction) {
  fit <- metafor::rma.uni(yi, vi, method = method, test = test, level = level)
  fe <- metafor::rma.uni(yi, vi, method = "FE")
  k <- length(yi)
  out <- list(
    EFFECT_SIZE = as.numeric(fit$beta), SE = as.numeric(fit$se),
    CI_START = as.numeric(fit$ci.lb), CI_END = as.numeric(fit$ci.ub),
    Z = as.numeric(fit$zval), P_Z = as.numeric(fit$pval),
    CHI2 = as.numeric(fe$QE), DF = k - 1, P_CHI2 = if (k > 1) as.numeric(fe$QEp) else NA_real_,
    I2 = if (i2_from == "Q") as.numeric(fe$I2) else as.numeric(fit$I2),
    TAU2 = as.numeric(fit$tau2),
    weights = as.numeric(stats::weights(fit))
  )
  if (prediction && method != "FE") {
    pr <- stats::predict(fit, level = level)
    out$PI_START <- as.numeric(if (is.null(pr$pi.lb)) pr$cr.lb else pr$pi.lb)
    out$PI_END <- as.numeric(if (is.null(pr$pi.ub)) pr$cr.ub else pr$pi.ub)
  }
  out
}

mh_cochrane_reverify <- function(m1i, sd1i, n1i, m2i, sd2i, n2i, group, measure = "MD", smd = "revman",
                                 method = "FE", test = "z", level_study = 95, level_total = 95,
                                 i2_from = "Q", prediction = FALSE, subgroups = FALSE,
                                 weights_within = FALSE, subgroup_test = "random") {
  es <- mh_cochrane_es(m1i, sd1i, n1i, m2i, sd2i, n2i, measure, smd)
  mh_cochrane_reverify_es(es, group, method, test, level_study, level_total, i2_from, prediction, subgroups,
                          weights_within, subgroup_test)
}

# The same from given study effects es = list(yi, vi): continuous effects (above), or RevMan's generic
# inverse-variance data (an estimate and its SE per study) and O - E data (Peto: yi = (O - E)/V, vi = 1/V).
mh_cochrane_reverify_es <- function(es, group, method = "FE", test = "z", level_study = 95, level_total = 95,
                                    i2_from = "Q", prediction = FALSE, subgroups = FALSE,
                                    weights_within = FALSE, subgroup_test = "random") {
  z <- stats::qnorm(1 - (1 - level_study / 100) / 2)
  sei <- sqrt(es$vi)
  overall <- mh_cochrane_pool(es$yi, es$vi, method, test, level_total, i2_from, prediction)
  out <- list(yi = es$yi, sei = sei, ci_lb = es$yi - z * sei, ci_ub = es$yi + z * sei,
              weight = overall$weights, overall = overall)
  if (subgroups) {
    labels <- unique(group)
    pools <- lapply(labels, function(g) {
      i <- group == g
      mh_cochrane_pool(es$yi[i], es$vi[i], method, test, level_total, i2_from, prediction)
    })
    names(pools) <- labels
    if (weights_within) out$weight <- unsplit(lapply(pools, function(p) p$weights), factor(group, levels = labels))
    # a subgroup's weight: the sum of its studies' weights as displayed (percent of the
    # overall analysis; of the subgroup itself, i.e. 100, when weights are taken within)
    for (g in labels) pools[[g]]$WEIGHT <- sum(out$weight[group == g])
    out$subgroups <- pools
    if (length(labels) == 1) {
      # one non-empty subgroup: nothing to differ from; Q = 0 on df = 0 (P undefined), I^2 = 0
      out$test <- list(Q = 0, DF = 0, P_Q = NA_real_, I2_Q = 0)
    }
    if (length(labels) >= 2) {
      if (subgroup_test == "fixed") {
        # Q_total - sum_j Q_j = QM of the FE meta-regression on the subgroup factor
        gf <- factor(group, levels = labels)
        fit <- metafor::rma.uni(es$yi, es$vi, mods = ~ gf, method = "FE")
        q <- as.numeric(fit$QM)
      } else {
        # Cochran's Q on the subgroup estimates, each with its own tau^2
        b <- sapply(pools, function(p) p$EFFECT_SIZE)
        s <- sapply(pools, function(p) p$SE)
        q <- as.numeric(metafor::rma.uni(b, sei = s, method = "FE")$QE)
      }
      df <- length(labels) - 1
      out$test <- list(Q = q, DF = df, P_Q = stats::pchisq(q, df, lower.tail = FALSE),
                       I2_Q = if (q > 0) max(0, (q - df) / q) * 100 else 0)
    }
  }
  out
}

# Generic inverse-variance data (RevMan's IV_OUTCOME: an estimate and its SE per study, on the log scale
# for ratio measures) and O - E data (IPD_OUTCOME: O - E and its variance V; Peto's log odds ratio
# (O - E)/V with SE 1/sqrt(V); Yusuf et al. 1985). A study without a positive, finite SE (V) is not
# estimable (RevMan: no weight); the others are pooled by mh_cochrane_reverify_es (inverse-variance
# fixed effect or DerSimonian-Laird). Per-study results are given for every study (NA where not
# estimable), with `estimable`.
mh_cochrane_generic <- function(yi = NULL, sei = NULL, o_e = NULL, var = NULL, group, method = "FE", level_study = 95,
                                level_total = 95, subgroups = FALSE, weights_within = FALSE, subgroup_test = "random") {
  if (!is.null(o_e)) {
    yi <- ifelse(var > 0, o_e / var, NA_real_)
    sei <- ifelse(var > 0, 1 / sqrt(var), NA_real_)
  }
  est <- is.finite(yi) & is.finite(sei) & sei > 0
  k <- length(yi)
  out <- list(estimable = est)
  if (!any(est)) return(out)
  fit <- mh_cochrane_reverify_es(list(yi = yi[est], vi = sei[est]^2), group[est], method, "z", level_study, level_total,
                                 "Q", FALSE, subgroups, weights_within, subgroup_test)
  for (n in c("yi", "sei", "ci_lb", "ci_ub", "weight")) {
    v <- rep(NA_real_, k)
    v[est] <- fit[[n]]
    out[[n]] <- v
  }
  c(out, fit[setdiff(names(fit), c("yi", "sei", "ci_lb", "ci_ub", "weight"))])
}
