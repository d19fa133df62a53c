# Cartwise: every target works on a fresh machine with nothing installed but Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
export OPENBLAS_NUM_THREADS ?= 1
export SPARK_LOCAL_IP ?= 127.0.0.1

.PHONY: install install-test system-packages demo test test-fast lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,dev,spark]'
	touch $@

install-test: $(TEST_STAMP) system-packages

# Browser tests drive Debian's Chromium (never `playwright install`) and the Spark tests need a
# Java runtime: install Debian's packages for whichever is absent.
system-packages:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	if [ -n "$$missing" ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: install
	$(BIN)/cartwise demo --db demo/cartwise.duckdb

test: install-test
	$(BIN)/python -m pytest -q

test-fast: install-test
	$(BIN)/python -m pytest -q -m "not slow"

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# Benchmarks print tables; BENCHMARKS.md records them. They read ../shared/data where given.
BENCHES ?= ingest demo clv recs_quality forecast analytics basket churn collector collector_writer demand profiles recs_repeat recs_serving cli_startup

bench: install-test
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	@for b in $(BENCHES); do echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) demo .pytest_cache .ruff_cache .mypy_cache
