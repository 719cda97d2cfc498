# metafor twin of the Python core for 2x2 tables: escalc's binary measures
# (rma.uni on them is mh_rma in metafor.R), rma.mh and rma.peto. Called by name from Python with plain
# data (see engine.R); nothing here builds code from strings.
#
# data: named list with ai, ci and either bi, di or n1i, n2i (numbers)

mh_binary_cells <- function(data) {
  ai <- as.numeric(data$ai)
  ci <- as.numeric(data$ci)
  bi <- if (!is.null(data$bi)) as.numeric(data$bi) else as.numeric(data$n1i) - ai
  di <- if (!is.null(data$di)) as.numeric(data$di) else as.numeric(data$n2i) - ci
  list(ai = ai, bi = bi, ci = ci, di = di)
}

# escalc(measure = "OR"/"RR"/"RD"/"PETO", ai, bi, ci, di, add, to, drop00, vtype)
# and the per-study 95% CI as summary.escalc gives it.
mh_escalc_binary <- function(data, measure, vtype = "LS", add = 0.5, to = "only0", drop00 = FALSE) {
  x <- mh_binary_cells(data)
  es <- metafor::escalc(measure = measure, ai = x$ai, bi = x$bi, ci = x$ci, di = x$di,
                        add = add, to = to, drop00 = drop00, vtype = vtype)
  s <- summary(es)
  list(yi = as.numeric(es$yi), vi = as.numeric(es$vi), ci_lb = as.numeric(s$ci.lb), ci_ub = as.numeric(s$ci.ub))
}

# Fields shared by rma.mh and rma.peto fits; yi/vi for every study (yi.f),
# weights for every study (NA where a table was left out).
mh_binary_fit_fields <- function(res, measure) {
  w <- rep(NA_real_, res$k.f)
  w[res$not.na] <- as.numeric(stats::weights(res))
  transf <- if (measure %in% c("OR", "RR", "PETO")) exp else function(x) x
  p <- stats::predict(res, transf = transf)
  list(beta = as.numeric(res$beta), se = as.numeric(res$se), zval = as.numeric(res$zval),
       pval = as.numeric(res$pval), ci_lb = as.numeric(res$ci.lb), ci_ub = as.numeric(res$ci.ub),
       QE = as.numeric(res$QE), QEp = as.numeric(res$QEp), I2 = as.numeric(res$I2), H2 = as.numeric(res$H2),
       k = as.numeric(res$k), k_yi = as.numeric(res$k.yi), k_pos = as.numeric(res$k.pos),
       yi = as.numeric(res$yi.f), vi = as.numeric(res$vi.f), weights = w, not_na = as.logical(res$not.na),
       pred = as.numeric(p$pred), pred_ci_lb = as.numeric(p$ci.lb), pred_ci_ub = as.numeric(p$ci.ub))
}

mh_rma_mh <- function(data, measure = "OR", add = 0.5, to = "only0", drop00 = TRUE, correct = TRUE, level = 95) {
  x <- mh_binary_cells(data)
  res <- metafor::rma.mh(ai = x$ai, bi = x$bi, ci = x$ci, di = x$di, measure = measure, add = add, to = to,
                         drop00 = drop00, correct = correct, level = level)
  out <- mh_binary_fit_fields(res, measure)
  for (n in c("CO", "COp", "MH", "MHp", "BD", "BDp", "TA", "TAp")) out[[n]] <- as.numeric(res[[n]])
  out
}

mh_rma_peto <- function(data, add = 0.5, to = "only0", drop00 = TRUE, level = 95) {
  x <- mh_binary_cells(data)
  res <- metafor::rma.peto(ai = x$ai, bi = x$bi, ci = x$ci, di = x$di, add = add, to = to, drop00 = drop00, level = level)
  mh_binary_fit_fields(res, "PETO")
}

# ---- RevMan 5's dichotomous methods (the twin of harness/core/revman_binary.py) ----------------
# Written from Deeks & Higgins (2010), "Statistical algorithms in Review Manager 5", with
# metafor's rma.mh / rma.uni for the parts RevMan computes as they do:
#  - a table with a zero cell gets 0.5 in every cell (study effects, and the MH sums);
#  - OR: no events or only events in both groups, RR: no events in both groups -> not estimable;
#  - RD = a/n1 - c/n2 uncorrected, SE from the corrected cells; MH RD variance of
#    Greenland & Robins (1985) (metafor's rma.mh uses Sato, Greenland & Robins 1989);
#  - MH heterogeneity: IV weights, centred on the MH estimate; "M-H random": DerSimonian-Laird
#    from that Q, then inverse-variance pooling with 1/(SE^2 + tau^2);
#  - Peto: (O-E)/V, SE 1/sqrt(V), no correction, V = 0 not estimable; IV pooling.
# convention = "metafor" gives metafor's own functions instead (rma.mh, rma.peto, rma.uni on
# escalc's effects with their defaults), whose differences from RevMan are registered.
mh_revman_dich <- function(data, measure = "RR", method = "MH", model = "random", level = 95, convention = "revman") {
  x <- mh_binary_cells(data)
  if (convention == "metafor") return(mh_revman_dich_metafor(x, measure, method, model, level))
  a <- x$ai; b <- x$bi; c <- x$ci; d <- x$di
  n1 <- a + b; n2 <- c + d; N <- n1 + n2
  k <- length(a)
  if (method == "PETO") {
    oe <- a - n1 * (a + c) / N
    v <- n1 * n2 * (a + c) * (b + d) / (N^2 * (N - 1))
    est <- v > 0
    yi <- ifelse(est, oe / v, NA_real_)
    sei <- ifelse(est, 1 / sqrt(v), NA_real_)
  } else {
    zero <- a == 0 | b == 0 | c == 0 | d == 0
    A <- a + 0.5 * zero; B <- b + 0.5 * zero; C <- c + 0.5 * zero; D <- d + 0.5 * zero
    N1 <- A + B; N2 <- C + D
    if (measure == "OR") {
      est <- !((a == 0 & c == 0) | (b == 0 & d == 0))
      yi <- log((A * D) / (B * C)); vi <- 1 / A + 1 / B + 1 / C + 1 / D
    } else if (measure == "RR") {
      est <- !(a == 0 & c == 0)
      yi <- log((A / N1) / (C / N2)); vi <- 1 / A + 1 / C - 1 / N1 - 1 / N2
    } else {
      est <- rep(TRUE, k)
      yi <- a / n1 - c / n2; vi <- A * B / N1^3 + C * D / N2^3
    }
    yi[!est] <- NA_real_
    sei <- ifelse(est, sqrt(vi), NA_real_)
  }
  e <- which(est)
  w_all <- rep(0, k)
  out <- list(yi = yi, sei = sei, k = length(e))
  # no estimable study: RevMan's "not estimable" (Chi2 0 on df 0, nothing else)
  if (!length(e)) return(c(out, list(weights = w_all, chi2 = 0, df = 0)))
  y <- yi[e]; s <- sei[e]
  if (method == "MH") {
    if (measure == "RD") {
      W <- n1[e] * n2[e] / N[e]
      theta <- sum(W * y) / sum(W)
      se <- sqrt(sum((A[e] * B[e] * N2[e]^3 + C[e] * D[e] * N1[e]^3) / (N1[e] * N2[e] * (N1[e] + N2[e])^2)) / sum(W)^2)
      wmh <- W / sum(W) * 100
    } else {
      mhfit <- mh_quiet_ratio(metafor::rma.mh(ai = A[e], bi = B[e], ci = C[e], di = D[e], measure = measure, add = 0, to = "none", drop00 = FALSE, level = level))
      theta <- as.numeric(mhfit$beta); se <- as.numeric(mhfit$se)
      wmh <- as.numeric(stats::weights(mhfit))
    }
    Q <- sum((y - theta)^2 / s^2)
  } else {
    wq <- 1 / s^2
    Q <- sum(wq * (y - sum(wq * y) / sum(wq))^2)
  }
  df <- length(e) - 1
  wts <- 1 / s^2
  tau2 <- if (model == "random" && df > 0) max(0, (Q - df) / (sum(wts) - sum(wts^2) / sum(wts))) else 0
  if (method == "MH" && model == "fixed") {
    crit <- stats::qnorm(1 - (1 - level / 100) / 2)
    pooled <- list(estimate = theta, se = se, ci_lb = theta - crit * se, ci_ub = theta + crit * se, z = theta / se,
                   p = 2 * stats::pnorm(abs(theta / se), lower.tail = FALSE))
    w_all[e] <- wmh
  } else {
    fit <- mh_quiet_ratio(metafor::rma.uni(y, sei = s, tau2 = tau2, method = if (model == "random") "DL" else "FE", level = level))
    pooled <- list(estimate = as.numeric(fit$beta), se = as.numeric(fit$se), ci_lb = as.numeric(fit$ci.lb),
                   ci_ub = as.numeric(fit$ci.ub), z = as.numeric(fit$zval), p = as.numeric(fit$pval))
    w_all[e] <- as.numeric(stats::weights(fit))
  }
  c(out, pooled, list(chi2 = Q, df = df, p_chi2 = if (df > 0) stats::pchisq(Q, df, lower.tail = FALSE) else NA_real_,
                      i2 = if (df > 0) (if (Q > 0) max(0, (Q - df) / Q) * 100 else 0) else NA_real_, tau2 = tau2, weights = w_all))
}

# The twin uses rma.uni/rma.mh as arithmetic only (IV pooling with a given tau^2, MH sums); their
# caution about a largest/smallest sampling variance ratio >= 1e7 is metafor's, not RevMan's (RevMan
# computes and stores such analyses without a note), so that one warning is muffled here; any other
# warning still reaches Python.
mh_quiet_ratio <- function(expr) {
  withCallingHandlers(expr, warning = function(w) {
    if (startsWith(conditionMessage(w), "Ratio of largest to smallest sampling variance extremely large")) invokeRestart("muffleWarning")
  })
}

# metafor's own counterpart of each RevMan method, given RevMan's zero-cell rule where metafor has
# an argument for it: add = 1/2 to = "only0" for the study effects and (OR, RR) inside the MH sums,
# drop00 = TRUE for OR and RR (RevMan: not estimable); Peto's effects without a correction
# (add = 0). What remains is by design (metafor's rma.mh RD variance, rma.uni's IV-centred
# heterogeneity for random effects, RD of zero-cell tables) and registered in explained.toml.
mh_revman_dich_metafor <- function(x, measure, method, model, level) {
  d00 <- measure != "RD"
  if (method == "MH" && model == "fixed") {
    fit <- metafor::rma.mh(ai = x$ai, bi = x$bi, ci = x$ci, di = x$di, measure = measure, level = level,
                           add = c(0.5, if (measure == "RD") 0 else 0.5), to = c("only0", if (measure == "RD") "none" else "only0"),
                           drop00 = c(d00, d00))
    yi <- as.numeric(fit$yi.f); vi <- as.numeric(fit$vi.f)
  } else if (method == "PETO" && model == "fixed") {
    fit <- metafor::rma.peto(ai = x$ai, bi = x$bi, ci = x$ci, di = x$di, add = 0, drop00 = TRUE, level = level)
    yi <- as.numeric(fit$yi.f); vi <- as.numeric(fit$vi.f)
  } else {
    if (method == "PETO") {
      es <- metafor::escalc(measure = "PETO", ai = x$ai, bi = x$bi, ci = x$ci, di = x$di, add = 0, drop00 = TRUE)
    } else {
      es <- metafor::escalc(measure = measure, ai = x$ai, bi = x$bi, ci = x$ci, di = x$di, add = 0.5, to = "only0", drop00 = d00)
    }
    yi <- as.numeric(es$yi); vi <- as.numeric(es$vi)
    fit <- metafor::rma.uni(yi, vi, method = if (model == "random") "DL" else "FE", level = level)
  }
  w <- rep(0, length(yi))
  w[fit$not.na] <- as.numeric(stats::weights(fit))
  kk <- as.numeric(if (is.null(fit$k.yi)) fit$k else fit$k.yi)
  list(yi = yi, sei = sqrt(vi), weights = w, k = kk, estimate = as.numeric(fit$beta), se = as.numeric(fit$se),
       ci_lb = as.numeric(fit$ci.lb), ci_ub = as.numeric(fit$ci.ub), z = as.numeric(fit$zval), p = as.numeric(fit$pval),
       chi2 = as.numeric(fit$QE), df = kk - 1, p_chi2 = if (kk > 1) as.numeric(fit$QEp) else NA_real_,
       i2 = if (kk > 1) (if (fit$QE > 0) max(0, (fit$QE - (kk - 1)) / fit$QE) * 100 else 0) else NA_real_, tau2 = as.numeric(fit$tau2))
}

# One dichotomous analysis of a RevMan review as RevMan 5 computes it (mh_revman_dich, the twin above,
# on every block): the studies (effects for every study, NA where not estimable; CIs at level_study;
# weights in percent of the analysis, or of their subgroup when weights_within = TRUE, RevMan's
# TOTALS = "SUB"), the overall result and each subgroup's (each with its own tau^2), totals of events
# and participants over every study (estimable or not), and the test for subgroup differences over the
# subgroups with an estimable study: fixed effect, the partition Q - sum_j Q_j of the method's
# heterogeneity statistic; random effects, Cochran's Q of the subgroup estimates (rma.uni, FE).
mh_cochrane_dich <- function(ai, n1i, ci, n2i, group, measure = "RR", method = "MH", model = "random",
                             level_study = 95, level_total = 95, subgroups = FALSE, weights_within = FALSE) {
  block <- function(i) {
    r <- mh_revman_dich(list(ai = ai[i], n1i = n1i[i], ci = ci[i], n2i = n2i[i]), measure, method, model, level_total)
    r$EVENTS_1 <- sum(ai[i]); r$TOTAL_1 <- sum(n1i[i]); r$EVENTS_2 <- sum(ci[i]); r$TOTAL_2 <- sum(n2i[i])
    r
  }
  overall <- block(seq_along(ai))
  z <- stats::qnorm(1 - (1 - level_study / 100) / 2)
  out <- list(yi = overall$yi, sei = overall$sei, ci_lb = overall$yi - z * overall$sei, ci_ub = overall$yi + z * overall$sei,
              estimable = !is.na(overall$yi), weight = overall$weights, overall = overall[setdiff(names(overall), c("yi", "sei", "weights"))])
  if (subgroups) {
    labels <- unique(group)
    pools <- lapply(labels, function(g) block(group == g))
    names(pools) <- labels
    if (weights_within) for (g in labels) out$weight[group == g] <- pools[[g]]$weights
    for (g in labels) pools[[g]]$WEIGHT <- sum(out$weight[group == g])
    have <- labels[vapply(pools, function(p) p$k > 0, logical(1))]
    J <- length(have)
    if (J == 1) out$test <- list(Q = 0, DF = 0, P_Q = NA_real_, I2_Q = 0)
    if (J >= 2) {
      q <- if (model == "fixed") overall$chi2 - sum(vapply(pools[have], function(p) p$chi2, numeric(1)))
           else as.numeric(metafor::rma.uni(vapply(pools[have], function(p) p$estimate, numeric(1)),
                                            sei = vapply(pools[have], function(p) p$se, numeric(1)), method = "FE")$QE)
      out$test <- list(Q = q, DF = J - 1, P_Q = stats::pchisq(q, J - 1, lower.tail = FALSE),
                       I2_Q = if (q > 0) max(0, (q - (J - 1)) / q) * 100 else 0)
    }
    out$subgroups <- lapply(pools, function(p) p[setdiff(names(p), c("yi", "sei", "weights"))])
  }
  out
}
