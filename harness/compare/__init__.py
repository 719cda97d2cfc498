"""Comparison layer: tolerances, per-quantity records and verdicts."""
