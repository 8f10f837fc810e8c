"""rnnlab.inspect."""
