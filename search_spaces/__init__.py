"""Optuna define-by-run search spaces that produce validated probe_core trial configs."""
