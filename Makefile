# Shelf: `make demo` and `make test` are the two commands a fresh clone needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHELF_DATA_DIR ?= .shelf
export SHELF_DATA_DIR

.PHONY: install demo test lint services bench clean docs ranker

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed vendor

# Builds the index from the sample catalog and runs queries in eight languages. The real
# reranker is used when it can be loaded; offline, the demo says so once and ranks without it
# (no random-weight model ranks outside tests). Each answer names the stages that ran.
demo: install
	$(BIN)/shelf ingest catalog/data/sample_catalog.jsonl
	$(BIN)/shelf demo

# The reference pages (docs/reference/) from Settings, the shelf parser and the OpenAPI schema;
# tests/test_docs.py fails when they are stale.
docs: install
	$(BIN)/python docs/generate_reference.py

# The default learned ranker (search/ranking/default/), trained on half of the sample judged
# queries; prints nDCG@10 against ranker=none on the held-out half and on every query.
ranker: install
	OMP_NUM_THREADS=1 $(BIN)/python -m search.learning.build_default

lint: install
	$(BIN)/ruff check search workers catalog tests bench
	$(BIN)/ruff format --check search workers catalog tests bench
	$(BIN)/mypy search workers catalog
	$(BIN)/lint-imports

# The tests use a real Redis (their own database, 13) and a real PostgreSQL (database `test`,
# trust auth on 127.0.0.1, their own table prefixes). Start each, installing it first if missing.
REDIS_UP := $(BIN)/python -c "import redis; redis.Redis(socket_connect_timeout=1).ping()"
POSTGRES_UP := $(BIN)/python -c "import psycopg; psycopg.connect('host=127.0.0.1 user=postgres dbname=test', connect_timeout=2).close()"
services: install
	@$(REDIS_UP) 2>/dev/null || { \
	  command -v redis-server >/dev/null || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }; \
	  mkdir -p /tmp/shelf-redis; \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
	    --dir /tmp/shelf-redis --logfile /tmp/shelf-redis/redis.log; \
	  for i in 1 2 3 4 5 6 7 8 9 10; do $(REDIS_UP) 2>/dev/null && break; sleep 0.5; done; \
	  $(REDIS_UP); }
	@$(POSTGRES_UP) 2>/dev/null || { bash deploy/dev-postgres.sh && $(POSTGRES_UP); }

test: install lint services browser
	$(BIN)/pytest

# Benchmarks print the hardware first and end with one RESULT line each. The rerank benchmark
# builds a full-size random-weight model once (2.2 GB in $(SHELF_DATA_DIR)/bench-model) and takes
# several minutes on a small CPU.
bench: install services
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.cache_hit
	$(BIN)/python -m bench.search_load
	$(BIN)/python -m bench.events
	$(BIN)/python -m bench.celery_wait
	$(BIN)/python -m bench.hybrid
	$(BIN)/python -m bench.ranker
	$(BIN)/python -m bench.facets
	$(BIN)/python -m bench.suggest
	$(BIN)/python -m bench.rerank_throughput --model-dir $(SHELF_DATA_DIR)/bench-model

# The dashboard's Chart.js, pinned by search/dashboard/package-lock.json, copied into the package
# (with its licence) so the page and a built wheel work offline: no CDN.
.PHONY: vendor browser
DASHBOARD := search/dashboard
VENDORED := $(DASHBOARD)/static/vendor/chart.umd.min.js
$(VENDORED): $(DASHBOARD)/package.json $(DASHBOARD)/package-lock.json
	@command -v npm >/dev/null || \
	  { echo "make vendor needs Node.js and npm (apt-get install nodejs npm)" >&2; exit 1; }
	cd $(DASHBOARD) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error \
	  && npm run --silent vendor
	touch $@
vendor: $(VENDORED)

# The dashboard test drives Debian's chromium (never a downloaded browser build).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

clean:
	rm -rf $(VENV) $(SHELF_DATA_DIR) .pytest_cache .mypy_cache .ruff_cache test-artifacts \
	  search/dashboard/node_modules search/dashboard/static/vendor
