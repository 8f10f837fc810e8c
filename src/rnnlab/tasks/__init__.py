"""rnnlab.tasks."""
