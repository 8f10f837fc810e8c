# Quick start:  make demo   (install, then train + show off the default model)
#               make test   (install, then lint + the whole test suite)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
# The CPU wheel of torch lies on disk; pinning it first keeps pip from resolving a multi-GB CUDA build.
TORCH  ?= torch==2.13.0

.PHONY: install demo test lint bench clean

# The demo needs only the package's own dependencies; tests add the dev tools (ruff, pytest, kenlm, ...).
$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e . "$(TORCH)"
	@# Describe the tasks once now, so the first `rnnlab --help` reads the command index (~0.1 s, no torch)
	@# instead of importing every task (~2 s): rnnlab.tasks.index, docs/verbs.md.
	$(VENV)/bin/rnnlab --help > /dev/null
	touch $@

$(VENV)/.installed: $(VENV)/.core
	$(PIP) install -q -e ".[dev]" "$(TORCH)"
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.core
	$(VENV)/bin/rnnlab demo $(DEMO_ARGS)

lint: install
	$(VENV)/bin/ruff check src tests benchmarks

test: install lint
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/recurrent_layers.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
