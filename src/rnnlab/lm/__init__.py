"""Language models: n-gram models and the neural RNN language model share one scoring interface."""
