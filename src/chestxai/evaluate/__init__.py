"""Evaluation: classification metrics (and, later, explanations and retrieval)."""
