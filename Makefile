# Two entry points for a fresh machine with Python >= 3.10 (see README.md):
#   make demo   set up .venv and run the main job on the bundled sample
#   make test   set up .venv and run ruff + the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test lint docs bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,dist,docs]"
	rm -f $(VENV)/.installed-* && touch $@

demo: $(STAMP)
	$(BIN)/hcanalysis demo -o demo-output

# ruff; the layer contracts of pyproject.toml [tool.importlinter] (kernels import nothing above
# them, io never imports the CLI, the CLIs and mdrunner do not use the kernels, no import cycles);
# no private names used across modules; the API reference built by Sphinx with numpydoc
# validation, warnings as errors (about 15 s of CPU).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python tools/check_private_names.py
	NUMBA_ENABLE_CUDASIM=1 $(BIN)/python -m sphinx -q -W --keep-going -b html docs/sphinx build/docs

docs: $(STAMP)
	NUMBA_ENABLE_CUDASIM=1 $(BIN)/python -m sphinx -b html docs/sphinx build/docs
	@echo "API reference: build/docs/index.html"

# pytest exits 5 when no tests are collected: that is not a failure of the suite.
test: lint
	NUMBA_ENABLE_CUDASIM=1 $(BIN)/python -m pytest -q || [ $$? -eq 5 ]

bench: $(STAMP)
	$(BIN)/python -m benchmarks run --quick

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
