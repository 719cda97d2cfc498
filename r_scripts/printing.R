# What R prints for a model: the reference the Python API's printed results are
# tested against (tests/test_api_print.py). Plain data in, the printed lines out
# (capture.output of R's own print methods); model formulas are built from
# symbols by mh_formula, never parsed.

mh_print_rma <- function(yi, vi, mods = list(), factors = list(), method = "REML", test = "z",
                         level = 95, intercept = TRUE, tau2 = NULL, weights = NULL, btt = NULL,
                         what = "fit", estimator = "L0") {
  md <- if (length(mods)) mh_mods_frame(mods, factors) else data.frame(row.names = seq_along(yi))
  md$.mh_yi <- as.numeric(yi)
  md$.mh_vi <- as.numeric(vi)
  md$.mh_w <- if (is.null(weights)) rep(1, length(yi)) else as.numeric(weights)
  args <- list(yi = as.name(".mh_yi"), vi = as.name(".mh_vi"), data = md, method = method,
               test = test, level = level)
  if (length(mods)) args$mods <- mh_formula(names(mods), intercept) else args$intercept <- intercept
  if (!is.null(weights)) args$weights <- as.name(".mh_w")
  if (!is.null(tau2)) args$tau2 <- tau2
  if (!is.null(btt)) args$btt <- as.integer(btt)
  fit <- do.call(metafor::rma.uni, args)
  obj <- switch(what,
    fit = fit,
    confint = stats::confint(fit),
    confint_fixed = stats::confint(fit, fixed = TRUE),
    regtest = metafor::regtest(fit),
    trimfill = metafor::trimfill(fit, estimator = estimator),
    leave1out = metafor::leave1out(fit),
    stop("unknown what: ", what))
  list(lines = utils::capture.output(print(obj)), version = as.character(utils::packageVersion("metafor")))
}

mh_print_robu <- function(data, mods = list(), factors = character(0), levels = list(),
                          modelweights = "CORR", rho = 0.8, small = TRUE, intercept = TRUE, ylab = "yi") {
  r <- mh_robu_fit(data, mods, factors, levels, modelweights, rho, small, intercept)
  fit <- r$fit
  fit$ml[[2]] <- as.name(ylab)  # the response as the user named it (the fit ran on .mh_yi)
  list(lines = utils::capture.output(print(fit)), version = as.character(utils::packageVersion("robumeta")))
}

# rma.mh (measure OR, RR, RD) or rma.peto (measure "PETO") on 2x2 tables, printed.
mh_print_tables <- function(ai, bi, ci, di, measure = "OR", level = 95) {
  fit <- if (measure == "PETO") metafor::rma.peto(ai = ai, bi = bi, ci = ci, di = di, level = level)
         else metafor::rma.mh(ai = ai, bi = bi, ci = ci, di = di, measure = measure, level = level)
  list(lines = utils::capture.output(print(fit)), version = as.character(utils::packageVersion("metafor")))
}
