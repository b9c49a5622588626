# The two commands: `make run` and `make test`. Each installs what it needs first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export AWS_DEFAULT_REGION ?= cn-north-1

.PHONY: run test lint bench package reset clean install

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

run: $(STAMP)          ## the whole system on 127.0.0.1 (API :8000; PORT overrides)
	$(PY) -m devstack

lint: $(STAMP)         ## ruff (with a complexity cap) and mypy, both clean
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint             ## lint, unit + integration (moto in-process and the in-memory fake), then end-to-end over HTTP
	$(PY) -m pytest tests/unit tests/integration
	$(PY) -m pytest tests/e2e

bench: $(STAMP)        ## cost and latency per operation; writes bench/results.json
	$(PY) -m bench

package: $(STAMP)      ## build/sam.json + deployment.zip: chalice package merged with infra/
	$(PY) -m infra.build --stage $${STAGE:-dev} --out build

reset:                 ## wipe the local stack's data
	rm -rf .local/data .local/dev-credentials.json

clean: reset
	rm -rf build $(VENV)
