# geo-risk developer commands. Each target sets up .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "geo-risk needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install geo-risk with its dev tools

demo: $(STAMP) ## generate the SYNTHETIC scenario and run the weekly job into out/demo/
	$(BIN)/geo-risk demo --out out/demo

test: $(STAMP) ## run the whole test suite
	$(BIN)/python -m pytest -q

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check geo_risk tests benchmarks scripts
	$(BIN)/mypy geo_risk

bench: $(STAMP) ## benchmarks against naive baselines (prints figures)
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_map.py
	$(BIN)/python benchmarks/bench_population.py

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
