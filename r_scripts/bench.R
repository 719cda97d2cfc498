# Timing helpers for bench/run.py: R measures its own computing, so the
# numbers exclude the rpy2 bridge. Each returns the seconds per fit of `reps`
# repetitions (median of `rounds` rounds).

mh_bench_rma <- function(yi, vi, method = "REML", reps = 100L, rounds = 5L) {
  t <- replicate(as.integer(rounds), system.time(
    for (i in seq_len(reps)) metafor::rma.uni(yi, vi, method = method)
  )[["elapsed"]] / reps)
  list(seconds = stats::median(t), tau2 = metafor::rma.uni(yi, vi, method = method)$tau2)
}

mh_bench_robu <- function(yi, vi, study, reps = 20L, rounds = 5L, rho = 0.8, small = TRUE) {
  d <- data.frame(yi = yi, vi = vi, study = study)
  f <- yi ~ 1
  t <- replicate(as.integer(rounds), system.time(
    for (i in seq_len(reps)) robumeta::robu(f, data = d, studynum = study, var.eff.size = vi,
                                             modelweights = "CORR", rho = rho, small = small)
  )[["elapsed"]] / reps)
  list(seconds = stats::median(t))
}
