# Test-only engine functions for the Python <-> R conversions (tests/test_r_engine.py):
# R itself says whether what arrived is the object it expects, and builds the
# objects whose Python form the tests write out. Loaded only as extra scripts.

# What Python sends in test_python_values_arrive_as_r_objects, built by R.
mh_test_expected_args <- function() {
  list(num = 1.5, int = 3, yes = TRUE, no = FALSE, text = "\u00e9\u2018x\u2019", none = NULL,
       empty = list(), vec = c(1, -0, Inf, -Inf, NaN), ivec = c(0, 1, 2), lvec = c(TRUE, FALSE),
       svec = c("a", "b"), evec = numeric(0), nested = list(a = list(b = c(1, 2))), lst = c(0.5, 2))
}

# identical(), with doubles compared bit by bit (num.eq = FALSE: -0 is not 0); and
# the encoding R marks the non-ASCII string with.
mh_test_is_expected <- function(x) {
  same <- identical(x, mh_test_expected_args(), num.eq = FALSE)
  out <- list(identical = same, encoding = Encoding(x$text),
              received = if (same) "" else paste(utils::capture.output(utils::str(x)), collapse = "\n"))
  out
}

# R values whose Python form tests/test_r_engine.py writes out by hand.
mh_test_values <- function() {
  list(int = c(1L, NA_integer_), lgl = c(TRUE, NA, FALSE), chr = c("x", NA, "\u00e9\u2018"),
       null = NULL, unnamed = list(1, "a"), partly = stats::setNames(list(1, 2), c("a", "")),
       na_name = stats::setNames(list(1), NA_character_), int0 = integer(0), lgl0 = logical(0),
       chr0 = character(0), dbl0 = numeric(0), list0 = list(), fac = factor(c("u", "v", "u")),
       named_dbl = c(x = 1, y = 2), dbl = c(NaN, NA, -0, Inf, 0.1), mat = matrix(c(1, 2, 3, 4), 2))
}

mh_test_environment <- function() list(ok = 1, env = new.env())
