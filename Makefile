# Quick start:  make demo   (install, then train + show off the default model)
#               make test   (install, then lint + the whole test suite)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
# The CPU wheel of torch lies on disk; pinning it first keeps pip from resolving a multi-GB CUDA build.
TORCH  ?= torch==2.13.0

.PHONY: install demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e ".[dev]" "$(TORCH)"
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/rnnlab demo

lint: install
	$(VENV)/bin/ruff check src tests benchmarks

test: install lint
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/recurrent_layers.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
