# Export metadat datasets as the bundled fixture CSVs (run once; the CSVs are committed).
#   Rscript r_scripts/export_metadat.R DATASET OUTFILE [COLUMNS...] [COLUMN==VALUE...]
# Writes the named columns (default: all) with full precision and records nothing
# else: the provenance goes in the fixture's spec.toml. An argument COLUMN==VALUE
# keeps only the rows whose COLUMN equals VALUE (compared as text), e.g.
# `table==6` for one table of dat.yusuf1985.
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(metadat))
dat <- get(args[1])
rest <- args[-(1:2)]
filters <- rest[grepl("==", rest, fixed = TRUE)]
cols <- rest[!grepl("==", rest, fixed = TRUE)]
for (f in filters) {
  kv <- strsplit(f, "==", fixed = TRUE)[[1]]
  dat <- dat[as.character(dat[[kv[1]]]) == kv[2], , drop = FALSE]
}
if (length(cols)) dat <- dat[, cols, drop = FALSE]
write.csv(dat, args[2], row.names = FALSE, na = "")
cat(sprintf("%s: %d rows -> %s (metadat %s)\n", args[1], nrow(dat), args[2], packageDescription("metadat")$Version))
