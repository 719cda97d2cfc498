"""Re-verify Cochrane reviews: RevMan 5 files (``.rm5``) and RevMan 5 analysis-data CSV exports.

* :mod:`.rm5` and :mod:`.export_csv` read a review into :class:`.rm5.Review`
  (analyses, subgroups, study rows; RevMan's inputs and its own computed values);
* :mod:`.reverify` recomputes every continuous analysis with the Python RevMan
  engine and with metafor (R) and compares each quantity with RevMan's value;
* :mod:`.quirks` holds RevMan's numerical quirks, each an explained difference;
* :mod:`.presets` names the convention presets ("RevMan 5", "RevMan Web 2025",
  "metafor defaults");
* :mod:`.lint` checks study inputs before pooling.
"""
from .rm5 import Analysis, Review, Row, Subgroup, read_review  # noqa: F401
