# Tandem — two commands: `make run` (set up, migrate, seed, serve) and `make test` (set up, lint, test).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app
TEST_PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/tandem_test
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider
PORT ?= 5000
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint setup system-packages test-sqlite test-postgres smoke-run bench

# Two stamps: the runtime (requirements.txt) for `make run`; the tests and tooling (requirements-dev.txt, which
# includes the runtime) for `make test` and `make lint`. A changed requirements file re-installs.
$(RUN_STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

setup: system-packages $(RUN_STAMP)

system-packages:
	@bash .ci/system-packages

.env:
	@echo "SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_hex(32))')" > .env
	@echo "Created .env with a random SECRET_KEY."

run: setup .env
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo --if-empty
	@echo ""
	@echo "Tandem is starting on http://127.0.0.1:$(PORT) — demo logins (password: demo-password):"
	@echo "  admin@example.com  hr@example.com  sales.lead@example.com"
	@echo "  marketing.lead@example.com  rep@example.com  marketer@example.com"
	@echo ""
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

# ruff (settings in pyproject.toml), the format check, and the layer contracts (docs/ARCHITECTURE.md).
lint: $(DEV_STAMP)
	$(BIN)/ruff check program tests migrations app.py gunicorn.conf.py .ci
	$(BIN)/ruff format --check program tests migrations app.py gunicorn.conf.py .ci
	$(BIN)/lint-imports

test: setup $(DEV_STAMP) lint
	@bash .ci/system-packages --browser
	$(MAKE) --no-print-directory oidc-provider
	$(MAKE) --no-print-directory smoke-run
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

# The single sign-on tests' OpenID provider (tests/oidc_provider: oidc-provider on Node), installed into its own
# folder from the committed package-lock.json; again only when that changes.
OIDC_PROVIDER_STAMP := tests/oidc_provider/node_modules/.installed
.PHONY: oidc-provider
oidc-provider: $(OIDC_PROVIDER_STAMP)

$(OIDC_PROVIDER_STAMP): tests/oidc_provider/package.json tests/oidc_provider/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 20+ with npm is needed for the single sign-on tests (e.g. apt-get install nodejs npm)." >&2; exit 1; }
	npm ci --prefix tests/oidc_provider --no-audit --no-fund
	@touch $@

# The README's run command, on the real clock and a temporary SQLite file: serves, every demo login signs in.
smoke-run: $(DEV_STAMP)
	$(BIN)/python .ci/smoke_run.py

# SQLite pass: everything but the PostgreSQL-only and browser tests on two workers, then the browser tests (one
# live server), then the time-travel run on two workers.
test-sqlite: $(DEV_STAMP)
	$(PYTEST) -n 2 -m "not postgres_only and not sqlite_only and not e2e" tests
	$(PYTEST) -m "e2e" tests
	$(PYTEST) -n 2 -m "sqlite_only" tests

# PostgreSQL pass: everything but the browser tests and the SQLite-only time-travel run, against a real server,
# on two workers (each its own database); the multi-host rig's tests stay together on one worker (loadgroup).
test-postgres: $(DEV_STAMP)
	@bash .ci/postgres "$(TEST_PG_URL)"
	TEST_DATABASE_URL="$(TEST_PG_URL)" $(PYTEST) -n 2 --dist loadgroup -m "not e2e and not sqlite_only" tests

# Benchmarks (not part of make test; they print ratios): report and dashboard cost at two data sizes, and the job
# engine on the multi-host rig (request latency with and without mail, queue latency commit → delivered).
bench: $(DEV_STAMP)
	$(BIN)/python .ci/bench_reports.py
	@bash .ci/postgres "$(TEST_PG_URL)"
	TEST_DATABASE_URL="$(TEST_PG_URL)" $(BIN)/python .ci/bench_jobs.py
	TEST_DATABASE_URL="$(TEST_PG_URL)" $(BIN)/python .ci/bench_pages.py --reuse
