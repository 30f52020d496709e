# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv if missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint typecheck install clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch/torchvision pinned to the builds on this machine's disk (see README).
	$(BIN)/pip install -q "torch==2.14.1" "torchvision==0.29.1"
	$(BIN)/pip install -q -e ".[dev,distributed]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/hwnas demo

test: $(STAMP)
	$(BIN)/ruff check hwnas profilers tests cli.py benchmarks
	# The public API and plug-in contracts ([tool.mypy] in pyproject.toml; seconds when cached).
	$(BIN)/mypy
	# The layers of README "Layout" and no import cycles ([tool.importlinter] in pyproject.toml).
	$(BIN)/lint-imports
	# Two workers for everything but the wall-clock tests, which then run alone: a second
	# worker on two cores delays their wake-ups (a 2 ms sleep measured 3.1 ms).
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not timing"
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m timing

# The tier to run while working: lint, types, layers, then the unit and conformance tests on two
# workers, without the wall-clock and slow ones (the e2e, cli and distributed suites are left
# to `make test`).
test-fast: $(STAMP)
	$(BIN)/ruff check hwnas profilers tests cli.py benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not timing and not slow" \
		tests/unit tests/conformance

lint: $(STAMP)
	$(BIN)/ruff check hwnas profilers tests cli.py benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) runs .pytest_cache
