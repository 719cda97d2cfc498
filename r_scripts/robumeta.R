# robumeta twin of the Python RVE core (harness/core/rve.py), and clubSandwich on robu fits.
#
# data: named list with yi, vi, study (character or numeric), optional uw (user weights)
# mods: named list of moderator columns; factors: names of the moderators that are
#       categorical, levels: named list of their levels (first = reference).
# Moderator names become symbols through mh_formula (never parsed); the response,
# study, variance and user-weight columns travel under names that start with
# ".mh_", which no moderator can take.

# measure (non-empty): the effect sizes from the arm columns m1i ... n2i of `data`, by
# metafor::escalc as the rma kind computes them (mh_escalc, metafor.R); else data$yi, data$vi.
mh_robu_es <- function(data, measure = "", vtype = "LS") {
  if (is.null(measure) || !nzchar(measure)) return(data)
  es <- mh_escalc(data, measure, vtype)
  data$yi <- es$yi
  data$vi <- es$vi
  data
}

mh_robu_frame <- function(data, mods, factors, levels) {
  md <- if (length(mods)) mh_frame(mods) else data.frame(row.names = seq_along(data$yi))
  for (f in factors) md[[f]] <- factor(md[[f]], levels = levels[[f]])
  md$.mh_yi <- as.numeric(data$yi)
  md$.mh_vi <- as.numeric(data$vi)
  md$.mh_study <- data$study
  if (!is.null(data$uw)) md$.mh_uw <- as.numeric(data$uw)
  md
}

# Fit robumeta::robu with a call built from symbols (robu evaluates studynum,
# var.eff.size and userweights inside `data` through match.call/model.frame).
mh_robu_fit <- function(data, mods = list(), factors = character(0), levels = list(),
                        modelweights = "CORR", rho = 0.8, small = TRUE, intercept = TRUE) {
  md <- mh_robu_frame(data, mods, factors, levels)
  args <- list(formula = mh_formula(names(mods), intercept, lhs = ".mh_yi"), data = as.name(".mh_data"),
               studynum = as.name(".mh_study"), var.eff.size = as.name(".mh_vi"),
               rho = rho, small = as.logical(small))
  if (modelweights == "USER") {
    args$userweights <- as.name(".mh_uw")
  } else {
    args$modelweights <- modelweights
  }
  env <- new.env(parent = globalenv())
  assign(".mh_data", md, envir = env)
  fit <- eval(as.call(c(list(robumeta::robu), args)), envir = env)
  list(fit = fit, frame = md)
}

mh_num <- function(x) as.numeric(unlist(x))

# Studies whose small-sample adjustment block is singular, i.e. where robu's
# pseudo-inverse (eigenvalues < 1e-10 set to 0, robu.R:459-506) acts. Rebuilt
# from the fit's own pieces (X per study, final weights, average variances)
# with robu's formulas; returned as the original study identifiers.
mh_robu_singular_blocks <- function(fit, study) {
  if (!fit$small) return(character(0))
  df <- fit$data.full
  Xreg <- fit$Xreg
  w <- df$r.weights
  Q <- solve(crossprod(Xreg, w * Xreg))
  ids <- sort(unique(as.numeric(as.factor(study))))
  labs <- levels(as.factor(study))
  ImH <- diag(nrow(Xreg)) - Xreg %*% Q %*% t(Xreg) %*% diag(w)
  bad <- character(0)
  for (j in ids) {
    r <- which(df$study == j)
    Ij <- ImH[r, r, drop = FALSE]
    inside <- if (fit$user_weighting) {
      ImH[r, , drop = FALSE] %*% diag(df$avg.var.eff.size) %*% t(ImH[r, , drop = FALSE])
    } else if (fit$modelweights == "HIER") {
      E <- diag(1 / w[r], nrow = length(r))
      sqrt(E) %*% Ij %*% (E^1.5)
    } else Ij
    if (min(eigen(inside)$values) < 1e-10) bad <- c(bad, labs[j])
  }
  sort(bad, method = "radix")
}

# Every quantity of a robu fit, flat. Per-row vectors are returned in the
# original row order (robu sorts rows by study: data.full[i] is row ord[i]).
mh_robu_fields <- function(fit, data) {
  rt <- fit$reg_table
  sid <- as.numeric(as.factor(data$study))
  ord <- order(sid)
  df <- fit$data.full
  if (!isTRUE(all.equal(as.numeric(df$effect.size), as.numeric(data$yi)[ord], tolerance = 0)))
    stop("internal: robu's row order is not order(as.factor(studynum))")
  back <- function(x) { out <- numeric(length(x)); out[ord] <- as.numeric(x); out }
  mi <- fit$mod_info
  k <- as.numeric(fit$k)
  out <- list(
    labels = as.character(rt$labels),
    b_r = mh_num(rt$b.r), SE = mh_num(rt$SE), t = mh_num(rt$t), dfs = mh_num(rt$dfs),
    prob = mh_num(rt$prob), CI_L = mh_num(rt$CI.L), CI_U = mh_num(rt$CI.U), sig = as.character(rt$sig),
    VR_r = as.numeric(fit$VR.r),
    N = as.numeric(fit$N), M = as.numeric(fit$M), p = as.numeric(fit$p),
    k_mean = mean(k), k_median = stats::median(k), k_min = min(k), k_max = max(k),
    r_weights = back(df$r.weights), e_r = back(df$e.r),
    user_weighting = fit$user_weighting, modelweights = fit$modelweights,
    notice = fit$mod_notice,
    singular_studies = as.character(mh_robu_singular_blocks(fit, data$study))
  )
  if (!fit$user_weighting) {
    # robu does not return Qe; it is sum(w e^2) with the first-stage weights and
    # residuals that robu keeps in data.full (robu.R:336 and :265).
    out$QE <- sum(df$weights * df$e^2)
    out$tau_sq <- mh_num(mi$tau.sq)
    if (fit$modelweights == "CORR") {
      out$I_2 <- mh_num(mi$I.2)
      out$term1 <- mh_num(mi$term1)
      out$term2 <- mh_num(mi$term2)
    } else {
      out$omega_sq <- mh_num(mi$omega.sq)
    }
  }
  out
}

mh_robu <- function(data, mods = list(), factors = character(0), levels = list(),
                    modelweights = "CORR", rho = 0.8, small = TRUE, intercept = TRUE, measure = "", vtype = "LS") {
  data <- mh_robu_es(data, measure, vtype)
  r <- mh_robu_fit(data, mods, factors, levels, modelweights, rho, small, intercept)
  c(mh_robu_fields(r$fit, data), list(yi = as.numeric(data$yi), vi = as.numeric(data$vi)))
}

# sensitivity(): robumeta prints a character table (format(digits = 3)). The
# numbers compared are robu() refitted at each rho of the same grid (the same
# formulas: tau^2 = max(0, term1 + rho * term2), then the second stage); the
# printed table is returned too, and a refit whose formatted values differ from
# the printed ones raises a warning (so it is reported, never hidden).
mh_robu_sensitivity <- function(data, mods = list(), factors = character(0), levels = list(),
                                small = TRUE, intercept = TRUE, measure = "", vtype = "LS") {
  data <- mh_robu_es(data, measure, vtype)
  base <- mh_robu_fit(data, mods, factors, levels, "CORR", 0.8, small, intercept)
  printed <- NULL
  utils::capture.output(printed <- robumeta::sensitivity(base$fit))
  grid <- seq(0, 1, 0.2)
  res <- list()
  for (i in seq_along(grid)) {
    f <- mh_robu_fit(data, mods, factors, levels, "CORR", grid[i], small, intercept)$fit
    vals <- c(as.vector(rbind(mh_num(f$reg_table$b.r), mh_num(f$reg_table$SE))), mh_num(f$mod_info$tau.sq))
    shown <- trimws(as.character(printed[[i + 2]]))
    mine <- trimws(format(vals, digits = 3, justify = "centre"))
    if (!identical(shown, mine))
      warning(sprintf("sensitivity() printed %s at rho = %s where robu(rho = %s) gives %s",
                      paste(shown, collapse = " "), grid[i], grid[i], paste(mine, collapse = " ")))
    res[[i]] <- list(rho = grid[i], b_r = mh_num(f$reg_table$b.r), SE = mh_num(f$reg_table$SE),
                     tau_sq = mh_num(f$mod_info$tau.sq), printed = shown)
  }
  list(labels = as.character(base$fit$reg_table$labels), grid = res, yi = as.numeric(data$yi), vi = as.numeric(data$vi))
}

# R's format(x, digits = 3, justify = "centre"), as sensitivity() prints it:
# lets a test format Python's numbers exactly as robumeta does.
mh_format_sensitivity <- function(x) trimws(format(as.numeric(x), digits = 3, justify = "centre"))

# clubSandwich on a robu fit: CR2 + Satterthwaite coef_test and conf_int.
mh_robu_clubsandwich <- function(data, mods = list(), factors = character(0), levels = list(),
                                 modelweights = "CORR", rho = 0.8, small = TRUE, intercept = TRUE, measure = "", vtype = "LS") {
  data <- mh_robu_es(data, measure, vtype)
  r <- mh_robu_fit(data, mods, factors, levels, modelweights, rho, small, intercept)
  fit <- r$fit
  ct <- clubSandwich::coef_test(fit, vcov = "CR2", test = "Satterthwaite")
  ci <- clubSandwich::conf_int(fit, vcov = "CR2", level = 0.95)
  out <- mh_robu_fields(fit, data)
  out$SE <- as.numeric(ct$SE)
  out$t <- as.numeric(ct$tstat)
  out$dfs <- as.numeric(ct$df_Satt)
  out$prob <- as.numeric(ct$p_Satt)
  out$CI_L <- as.numeric(ci$CI_L)
  out$CI_U <- as.numeric(ci$CI_U)
  out$VR_r <- as.numeric(clubSandwich::vcovCR(fit, type = "CR2"))
  out$yi <- as.numeric(data$yi)
  out$vi <- as.numeric(data$vi)
  out
}
