# Two commands for a fresh clone: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-clocks bench-console chaos check-config clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tierline up

test: $(STAMP) browser
	$(BIN)/pytest -q

# The HTML report test and the console's browser tests run headless Chromium (the console's through
# Playwright, which never downloads a browser of its own). Where it is missing and we may install packages
# (root with apt, as on CI), install Debian's chromium; otherwise those tests say so and skip.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	       && { apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
	            || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; }; }; } \
	  || echo "note: no Chromium found or installable; the browser tests (report render, console) will be skipped"

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m bench.pipeline

bench-clocks: $(STAMP)
	$(BIN)/python -m bench.clocks

bench-console: $(STAMP)
	$(BIN)/python -m bench.console

# The chaos suite: one fault per experiment under a steady alert stream, the invariants checked, a table printed
# (README "Reliability"). CHAOS_ARGS, e.g. "--alerts 1000 --only nats-cluster --short", for a short run.
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

check-config: $(STAMP)
	$(BIN)/tierline config check tierline.yaml

clean:
	rm -rf $(VENV) .tierline test-output
