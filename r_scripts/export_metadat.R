# Export metadat datasets as the bundled fixture CSVs (run once; the CSVs are committed).
#   Rscript r_scripts/export_metadat.R DATASET OUTFILE [COLUMNS...]
# Writes the named columns (default: all) with full precision and records nothing
# else: the provenance goes in the fixture's spec.toml.
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(metadat))
dat <- get(args[1])
if (length(args) > 2) dat <- dat[, args[-(1:2)], drop = FALSE]
write.csv(dat, args[2], row.names = FALSE, na = "")
cat(sprintf("%s: %d rows -> %s (metadat %s)\n", args[1], nrow(dat), args[2], packageDescription("metadat")$Version))
