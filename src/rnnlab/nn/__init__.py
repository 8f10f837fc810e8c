"""rnnlab.nn."""
