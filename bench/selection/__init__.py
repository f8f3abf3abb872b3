"""The strategy-selection benchmark: tasks with known best adaptation strategies."""
