# Test-only engine functions for the fault-injection suite (tests/test_faults.py).
# Loaded ONLY by workers started with extra_scripts = tests/r_faults (or
# $METAHARNESS_R_EXTRA_SCRIPTS); never part of the shipped engine.

mh_test_sleep <- function(seconds = 60) {
  Sys.sleep(seconds)
  list(slept = seconds)
}

# The worker dies by a signal sent to itself: 9 = SIGKILL (as the OOM killer
# would), 11 = SIGSEGV (as a segfault in native code does).
mh_test_signal <- function(sig = 9) {
  tools::pskill(Sys.getpid(), as.integer(sig))
  Sys.sleep(5)  # the signal is delivered asynchronously
  list(alive = TRUE)
}

# R itself exits (as native code calling exit() would).
mh_test_quit <- function(status = 3) {
  quit(save = "no", status = as.integer(status), runLast = FALSE)
}

mh_test_error <- function() stop("injected R error")

mh_test_warn <- function() {
  warning("injected R warning")
  list(x = 1)
}

# mh_rma with sentinels: the first effect size chooses the fault, so that one
# fixture can hold analyses that hang, crash, fail and succeed.
mh_rma_real <- mh_rma
mh_rma <- function(data, ...) {
  y1 <- if (!is.null(data$yi)) data$yi[1] else NA
  if (isTRUE(y1 == 4242)) Sys.sleep(600)
  if (isTRUE(y1 == 6666)) { tools::pskill(Sys.getpid(), 9L); Sys.sleep(5) }
  if (isTRUE(y1 == 1111)) { tools::pskill(Sys.getpid(), 11L); Sys.sleep(5) }
  if (isTRUE(y1 == 5555)) stop("injected R error in mh_rma")
  mh_rma_real(data, ...)
}
