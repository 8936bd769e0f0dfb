# nexus-ml: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv demo test test-unit bench lint format services-up services-down clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 needed, got " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $(STAMP)

demo: venv
	$(BIN)/nexus-ml demo

test: venv
	scripts/run-tests.sh

test-unit: venv
	$(BIN)/pytest -q -m "not integration" -n auto --maxprocesses 4 --dist loadfile

bench: venv
	scripts/run-bench.sh

lint: venv
	$(BIN)/ruff check nexus_ml service pipelines apps tests bench
	$(BIN)/ruff format --check nexus_ml service pipelines apps tests bench
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format nexus_ml service pipelines apps tests bench
	$(BIN)/ruff check --fix nexus_ml service pipelines apps tests bench

services-up: venv
	scripts/services.sh up

services-down:
	scripts/services.sh down

# re-vendor the dashboard's uPlot from npm (after changing service/dashboard/package.json)
dashboard-vendor:
	service/dashboard/build_vendor.sh

clean:
	rm -rf .nexus .pytest_cache .mypy_cache .ruff_cache build *.egg-info
