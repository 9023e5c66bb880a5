# Two commands for a fresh clone: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-clocks check-config clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tierline up

test: $(STAMP) browser
	$(BIN)/pytest -q

# The HTML report test renders in headless Chromium. Where it is missing and we may install packages
# (root with apt, as on CI), install Debian's chromium; otherwise that one test says so and skips.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	       && { apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
	            || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; }; }; } \
	  || echo "note: no Chromium found or installable; the HTML report render test will be skipped"

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m bench.pipeline

bench-clocks: $(STAMP)
	$(BIN)/python -m bench.clocks

check-config: $(STAMP)
	$(BIN)/tierline config check tierline.yaml

clean:
	rm -rf $(VENV) .tierline test-output
