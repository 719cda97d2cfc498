# Batched engine calls for `metaharness fuzz` (harness/fuzz/batch.py).
#
# calls: a named list; each element is list(fname = "mh_...", args = list(...)),
# exactly what Python would send to mh_call one at a time. The loop runs in R,
# so a chunk of hundreds of fits crosses the bridge once. Each call goes
# through mh_call (allow-listed mh_* name, its own warnings and error), so one
# failing fit never stops the others; `per_call` seconds (elapsed) bound each
# call with setTimeLimit, so one hanging fit costs one error, not the batch.
# `seconds` is R's own computing time for the whole batch.

mh_fuzz_batch <- function(calls, per_call = 60) {
  t0 <- proc.time()[["elapsed"]]
  one <- function(cl) {
    setTimeLimit(elapsed = per_call, transient = TRUE)
    on.exit(setTimeLimit(elapsed = Inf))
    mh_call(cl$fname, cl$args)
  }
  results <- lapply(calls, one)
  list(results = results, seconds = proc.time()[["elapsed"]] - t0)
}
