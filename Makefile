# `make help` lists the targets. Every target sets up .venv itself.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: help demo test chromium postgresql iproute2 lint typecheck bench bench-pg soak screenshot dashboard clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

demo: $(BIN)/.installed  ## run the demo: producer + worker processes on one .db file
	$(BIN)/python examples/demo.py $(ARGS)

test: $(BIN)/.installed chromium postgresql iproute2  ## run the whole test suite
	$(BIN)/python -m pytest -q $(ARGS)

# The dashboard's browser tests drive Debian's chromium (Playwright's own
# browser download is not reachable). Installed here when missing (CI runs as root).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The PostgreSQL tests start a throwaway server from Debian's binaries
# (tests/pg_server.py). Installed here when missing (CI runs as root).
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq postgresql >/dev/null; }

# tests/postgres/test_multihost.py puts workers in network namespaces with
# iproute2's `ip`. Installed here when missing (CI runs as root).
iproute2:
	@command -v ip >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq iproute2 >/dev/null; }

lint: $(BIN)/.installed  ## ruff lint + format check
	$(BIN)/ruff check honker tests bench examples scripts
	$(BIN)/ruff format --check honker

typecheck: $(BIN)/.installed  ## mypy --strict on the package
	$(BIN)/mypy

$(BIN)/.bench-installed: $(BIN)/.installed
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $@

bench: $(BIN)/.bench-installed  ## run every benchmark in bench/ (table + chart in bench/results/)
	cd bench && ../$(BIN)/python run_all.py $(ARGS)

bench-pg: $(BIN)/.bench-installed postgresql  ## PostgreSQL: honker-py vs bare psycopg vs Procrastinate (bench/postgres.py)
	cd bench && ../$(BIN)/python postgres.py $(ARGS)

soak: $(BIN)/.installed  ## run the soak test (MINUTES=10): producers, workers, listeners, stream, scheduler
	$(BIN)/python soak/run.py --minutes $(or $(MINUTES),10)

screenshot: $(BIN)/.installed chromium  ## regenerate docs/img/dashboard*.png from a demo database
	$(BIN)/python scripts/screenshot.py

dashboard: $(BIN)/.installed  ## serve the dashboard of the demo's database (make demo first)
	$(BIN)/honker dashboard honker-demo.db $(ARGS)

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
