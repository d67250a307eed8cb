# hospital-bff: `make run` serves the API on the embedded defaults; `make test` runs the whole suite.
# Both create what they need (.venv, Python packages, GraphiQL's offline assets) on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run test lint schema assets seed bench-seed bench-rankings bench-his bench-http refresh-rankings install

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

# GraphiQL's JavaScript and CSS, pinned in package-lock.json, served by this server (no CDN).
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --ignore-scripts --loglevel=error; \
	else \
		echo "npm not found: GraphiQL will load its assets from the unpkg CDN instead (install Node.js/npm to serve them offline)"; \
	fi

assets: node_modules/.package-lock.json

run: install assets
	PORT=$(PORT) $(PY) -m cli serve

test: install assets
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

schema: install
	$(PY) -m cli schema

seed: install
	$(PY) -m cli seed $(SEED_ARGS)

bench-seed: install
	$(PY) bench/seed_speed.py

bench-rankings: install
	$(PY) bench/rankings_speed.py

refresh-rankings: install
	$(PY) -m cli refresh-rankings $(RANKING_ARGS)

bench-his: install
	$(PY) bench/health_record_speed.py

# wrk against real uvicorn servers; BENCH_DATABASE_URL / BENCH_REDIS_URL use PostgreSQL / Redis.
bench-http: install
	$(PY) bench/http_bench.py $(BENCH_ARGS)
