# metafor twin of the Python core for 2x2 tables: escalc's binary measures,
# rma.uni on them, rma.mh and rma.peto. Called by name from Python with plain
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

# rma.uni on escalc's binary effects: the fields of mh_rma (metafor.R), plus
# not_na (the studies fitted; metafor omits those with NA yi/vi, warning) and,
# for intercept-only models of ratio measures, predict(fit, transf = exp).
mh_rma_binary <- function(data, mods = list(), factors = list(), measure = "OR", vtype = "LS", add = 0.5,
                          to = "only0", drop00 = FALSE, method = "REML", test = "z", level = 95,
                          intercept = TRUE, threshold = 1e-12, maxiter = 1000L, tol = NULL, weights = NULL,
                          extras = character(0), newmods = NULL, newmods_ncol = 1L, confint_tol = 1e-12) {
  es <- mh_escalc_binary(data, measure, vtype, add, to, drop00)
  if (!is.null(newmods)) newmods <- matrix(newmods, ncol = as.integer(newmods_ncol), byrow = TRUE)
  control <- mh_control(threshold, maxiter, tol)
  fit <- mh_fit(es, mods, factors, method, test, level, intercept, control, weights)
  out <- mh_rma_fields(fit, es)
  out$ci_lb_i <- es$ci_lb
  out$ci_ub_i <- es$ci_ub
  out$not_na <- as.logical(fit$not.na)
  if (measure %in% c("OR", "RR", "PETO") && length(mods) == 0L && isTRUE(intercept)) {
    p <- stats::predict(fit, transf = exp)
    out$transf <- list(pred = as.numeric(p$pred), ci_lb = as.numeric(p$ci.lb), ci_ub = as.numeric(p$ci.ub),
                       pi_lb = as.numeric(p$pi.lb), pi_ub = as.numeric(p$pi.ub))
  }
  for (x in extras) out[[x]] <- mh_call_extra(x, fit, newmods, control, confint_tol)
  out
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
