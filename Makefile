# Shelf: `make demo` and `make test` are the two commands a fresh clone needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHELF_DATA_DIR ?= .shelf
export SHELF_DATA_DIR

.PHONY: install demo test lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

$(SHELF_DATA_DIR)/test-model/config.json: $(BIN)/.installed catalog/data/sample_catalog.jsonl
	$(BIN)/shelf make-test-model $(SHELF_DATA_DIR)/test-model

# Builds the index from the sample catalog and runs queries in eight languages. The real
# reranker is used when it can be loaded; offline, the demo falls back (loudly) to the test model.
demo: install $(SHELF_DATA_DIR)/test-model/config.json
	$(BIN)/shelf ingest catalog/data/sample_catalog.jsonl
	SHELF_RERANK_FALLBACK_MODEL=$(SHELF_DATA_DIR)/test-model $(BIN)/shelf demo

lint: install
	$(BIN)/ruff check search workers catalog tests
	$(BIN)/ruff format --check search workers catalog tests
	$(BIN)/mypy search workers catalog

test: install lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) $(SHELF_DATA_DIR) .pytest_cache .mypy_cache .ruff_cache
