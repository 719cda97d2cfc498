# Generate the study-level data files of fixtures/published/ that need a
# transformation (log odds ratios), with metafor's escalc (run once; the CSVs
# are committed):
#   Rscript r_scripts/generate_published_data.R fixtures/published/data
# Writes lee2004_logor.csv (metadat dat.lee2004) and clasp_logor.csv (the CLASP
# trials as tabulated in DerSimonian & Kacker 2007, Contemp Clin Trials 28:105-114,
# and in metafor's tests/testthat/test_analysis_example_dersimonian2007.r).
suppressPackageStartupMessages({library(metafor); library(metadat)})
out <- commandArgs(trailingOnly = TRUE)[1]
lee <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.lee2004)
write.csv(data.frame(id = lee$id, study = lee$study, year = lee$year, ai = lee$ai, n1i = lee$n1i, ci = lee$ci, n2i = lee$n2i,
                     yi = as.numeric(lee$yi), vi = as.numeric(lee$vi)),
          file.path(out, "lee2004_logor.csv"), row.names = FALSE)
clasp <- data.frame(trial = 1:6, n1i = c(156, 303, 565, 1570, 103, 4659), n2i = c(74, 303, 477, 1565, 105, 4650),
                    ai = c(5, 5, 12, 69, 9, 313), ci = c(8, 17, 9, 94, 11, 352))
e <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = clasp)
clasp$yi <- as.numeric(e$yi); clasp$vi <- as.numeric(e$vi)
write.csv(clasp, file.path(out, "clasp_logor.csv"), row.names = FALSE)
cat(sprintf("metafor %s, metadat %s\n", packageDescription("metafor")$Version, packageDescription("metadat")$Version))
