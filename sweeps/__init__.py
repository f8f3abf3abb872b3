"""Ray Tune orchestration, MLflow tracking, reports and the ``probe-sweep`` CLI."""
