# sagemaker-beam-scoring -- `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLE := data/sample/part-00000.parquet
SAMPLE_ROWS ?= 100000
DATE   ?= $(shell date -u +%F)

.DEFAULT_GOAL := help
.PHONY: help setup run test test-unit lint endpoint validate clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

setup: $(STAMP) ## create .venv and install the package with its dev tools

$(SAMPLE): | $(STAMP)
	$(BIN)/smscore sample-data --out data/sample --rows $(SAMPLE_ROWS)

run: $(STAMP) $(SAMPLE) ## score the sample data on the local endpoint (DirectRunner); report in out/report.json
	$(BIN)/smscore run --config configs/local.yaml --date $(DATE) --report out/report.json

validate: $(STAMP) ## print the resolved configs/local.yaml
	$(BIN)/smscore validate --config configs/local.yaml

endpoint: $(STAMP) ## serve the built-in local endpoint on 127.0.0.1:8080 until Ctrl-C
	$(BIN)/smscore endpoint serve --port 8080

test: $(STAMP) ## run the whole suite (unit + integration)
	$(BIN)/pytest -q -p no:cacheprovider

test-unit: $(STAMP) ## only the fast unit tests
	$(BIN)/pytest -q -p no:cacheprovider -m "not integration"

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/mypy

clean: ## remove outputs and caches (keeps .venv)
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
