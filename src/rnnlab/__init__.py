"""rnnlab: recurrent and structured neural networks you can read, run and look inside."""

__version__ = "0.1.0"
