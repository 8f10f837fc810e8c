"""rnnlab.train."""
