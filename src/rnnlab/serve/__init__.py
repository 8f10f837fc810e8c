"""rnnlab.serve."""
