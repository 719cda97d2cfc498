# metaharness R engine: the entry point Python calls through rpy2.
#
# Python never sends R code. It calls mh_call(fname, args) with the name of a
# function defined in these scripts (checked against an allow-list on the
# Python side, and here: it must start with "mh_" and live in this
# environment) and a named list of plain data (numbers, strings, logicals).
# Every call returns list(ok, value, warnings, error): warnings are collected
# with withCallingHandlers (never printed), errors are caught with tryCatch and
# returned as R's own message.

mh_call <- function(fname, args) {
  if (!is.character(fname) || length(fname) != 1L || !startsWith(fname, "mh_") ||
      !exists(fname, envir = mh_env, mode = "function", inherits = FALSE))
    return(list(ok = FALSE, value = NULL, warnings = character(0),
                error = paste0("unknown engine function: ", fname)))
  fn <- get(fname, envir = mh_env, mode = "function", inherits = FALSE)
  warns <- character(0)
  value <- tryCatch(
    withCallingHandlers(
      do.call(fn, args),
      warning = function(w) {
        warns <<- c(warns, conditionMessage(w))
        invokeRestart("muffleWarning")
      },
      message = function(m) invokeRestart("muffleMessage")
    ),
    error = function(e) structure(list(message = conditionMessage(e)), class = "mh_error")
  )
  if (inherits(value, "mh_error"))
    return(list(ok = FALSE, value = NULL, warnings = warns, error = value$message))
  list(ok = TRUE, value = value, warnings = warns, error = NULL)
}

mh_versions <- function() {
  v <- function(p) if (requireNamespace(p, quietly = TRUE)) as.character(utils::packageDescription(p)$Version) else NA_character_
  list(R = paste(R.version$major, R.version$minor, sep = "."),
       R_string = R.version.string,
       metafor = v("metafor"), robumeta = v("robumeta"), clubSandwich = v("clubSandwich"),
       metadat = v("metadat"),
       # where R looks for packages, in order (one string: the paths joined as R_LIBS joins them)
       lib_paths = paste(.libPaths(), collapse = .Platform$path.sep))
}

# Build a model formula from moderator names without parsing any string:
# each name becomes a symbol (as.name), joined with `+`.
mh_formula <- function(names, intercept = TRUE, lhs = NULL) {
  terms <- lapply(names, as.name)
  rhs <- if (length(terms)) Reduce(function(a, b) call("+", a, b), terms) else 1
  if (!intercept) rhs <- call("-", rhs, 1)
  f <- if (is.null(lhs)) call("~", rhs) else call("~", as.name(lhs), rhs)
  stats::as.formula(f, env = baseenv())
}

# A data frame from a named list of columns, keeping names as given.
mh_frame <- function(cols) {
  if (!length(cols)) return(NULL)
  df <- as.data.frame(cols, stringsAsFactors = FALSE, optional = TRUE)
  names(df) <- names(cols)
  df
}
