# Everything a fresh machine needs is installed by these targets into ./.venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kypho-installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kypho demo kypho-demo --force

test: $(STAMP)
	$(BIN)/ruff check kypho tests benchmarks
	$(BIN)/python -m pytest -q -n 2

bench: $(STAMP)
	$(BIN)/python benchmarks/reading.py
	$(BIN)/python benchmarks/segmentation.py
	$(BIN)/python benchmarks/morphometry.py
	$(BIN)/python benchmarks/planning.py
	$(BIN)/python benchmarks/robustness.py
	$(BIN)/python benchmarks/analyze.py
	$(BIN)/python benchmarks/real_cases.py
	$(BIN)/python benchmarks/simulation.py --sizes 2 1.5 1 0.7

clean:
	rm -rf $(VENV) kypho-demo .pytest_cache
