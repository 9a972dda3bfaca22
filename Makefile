# Two commands matter: `make run` and `make test`. Both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit infra bench load lock clean synth browser stack

$(STAMP): requirements/dev.txt pyproject.toml package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) pip sync --quiet --python $(PY) requirements/dev.txt
	$(UV) pip install --quiet --python $(PY) --no-deps --editable .
	npm ci --silent --no-audit --no-fund
	touch $@

install: $(STAMP) browser

# Debian's Chromium for the real-browser test of /docs (tests/e2e/test_docs_browser.py), installed
# where that is allowed (root with apt-get); elsewhere that test is skipped and says why.
browser:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian's chromium for the browser test (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else echo "No chromium, and no root + apt-get to install it: the browser test will be skipped"; fi

run: $(STAMP)
	$(VENV)/bin/order-api serve

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: lint typecheck browser
	$(VENV)/bin/pytest -n 2 --dist loadgroup

synth: $(STAMP)
	npx cdk synth --quiet

# The deployed stack, locally: MiniStack on 127.0.0.1, `cdk deploy -c target=local`, until Ctrl-C.
stack: $(STAMP)
	$(PY) -m infra.local_stack $(ARGS)

bench: $(STAMP)
	$(PY) -m bench $(ARGS)

load: $(STAMP)
	$(PY) -m loadtest $(ARGS)

# Regenerate the lock files after changing pyproject.toml.
lock:
	$(UV) pip compile pyproject.toml --quiet --universal --python-version 3.11 -o requirements/runtime.txt
	$(UV) pip compile pyproject.toml --quiet --universal --python-version 3.11 --extra local --extra dev -o requirements/dev.txt
	$(UV) pip compile requirements/ministack.in --quiet --universal --python-version 3.13 -o requirements/ministack.txt
	$(UV) pip compile requirements/lambda-runtime.in --quiet --universal --python-version 3.13 --constraint requirements/runtime.txt -o requirements/lambda-runtime.txt

clean:
	rm -rf $(VENV) node_modules cdk.out .build .pytest_cache .mypy_cache .ruff_cache
