# Export robumeta's example datasets as bundled fixture CSVs (run once; the CSVs are committed).
#   Rscript r_scripts/export_robumeta.R OUTDIR
# Writes OUTDIR/hierdat/data.csv, OUTDIR/corrdat/data.csv, OUTDIR/oswald2013/data.csv and
# OUTDIR/oswald2013/ex1.csv with full precision. Derived columns are computed here,
# exactly as robumeta's documentation does, and named in the fixture's spec.toml:
#   hierdat:    followup_m = group.mean(followup, studyid), followup_c = group.center(...)
#               (Fisher & Tipton 2015, section 6.6)
#   corrdat:    uw_invvar = 1/var (inverse-variance user weights, for robu(userweights = ...))
#   oswald2013: effect.size = Fisher's z of R = 0.5*log((1+R)/(1-R)), var.eff.size = 1/(N-3)
#               (the transformation used for oswald2013.ex1, which ships with both columns)
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "fixtures"
suppressPackageStartupMessages(library(robumeta))
w <- function(d, f) {
  dir.create(dirname(f), showWarnings = FALSE, recursive = TRUE)
  utils::write.csv(d, f, row.names = FALSE, na = "")
  cat(sprintf("%s: %d rows (robumeta %s)\n", f, nrow(d), packageDescription("robumeta")$Version))
}
options(digits = 17)
data(hierdat); data(corrdat); data(oswald2013); data(oswald2013.ex1)
hierdat$followup_m <- group.mean(hierdat$followup, hierdat$studyid)
hierdat$followup_c <- group.center(hierdat$followup, hierdat$studyid)
w(hierdat, file.path(out, "hierdat", "data.csv"))
corrdat$uw_invvar <- 1 / corrdat$var
w(corrdat, file.path(out, "corrdat", "data.csv"))
os <- oswald2013
names(os) <- make.names(names(os))
os$effect.size <- 0.5 * log((1 + os$R) / (1 - os$R))
os$var.eff.size <- 1 / (os$N - 3)
w(os, file.path(out, "oswald2013", "data.csv"))
w(oswald2013.ex1, file.path(out, "oswald2013", "ex1.csv"))
