# The README's commands. `make demo` and `make test` each set up everything they
# need on a fresh machine (a virtualenv in .venv with the project and its extras).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test lint bench clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

## demo: start the embedded broker, publish simulated touchpoints, show the results
demo: $(STAMP)
	$(BIN)/touchpoint demo

## browser: Debian's chromium + chromedriver for the dashboard's browser test (once per machine)
# Selenium is given /usr/bin/chromedriver, so it never downloads a browser or a driver.
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
	  SUDO=$$(test "$$(id -u)" -eq 0 || echo sudo); \
	  $$SUDO apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends chromium chromium-driver; }

## test: lint, then the whole test suite (integration tests use a real broker; the
## dashboard's test a headless chromium)
test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.group_join
	$(BIN)/python -m bench.pipeline

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .touchpoint touchpoint.duckdb
