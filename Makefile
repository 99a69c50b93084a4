# Zopi order center: developer commands. `make run` and `make test` are the whole quick start.
#
# Everything runs from a virtual environment in .venv, created on first use with python3.11
# (or python3 when it is 3.11+). Installs are skipped while pyproject.toml is unchanged: the
# stamp files in .venv are named after its checksum.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

VENV ?= .venv
BOOTSTRAP_PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
PORT ?= 8000
PYTEST_ARGS ?=
BENCH_ORDERS ?= 10000
INGEST_ORDERS ?= 5000
IMPORT_ORDERS ?= 200000
PLACEMENT_ORDERS ?= 2000
TRACKING_SHIPMENTS ?= 10000
IMPORT_TIME_LIMIT ?= 60
BENCH_ARGS ?=

DEPS_KEY := $(firstword $(shell cksum pyproject.toml))
RUN_STAMP := $(VENV)/.installed-run-$(DEPS_KEY)
DEV_STAMP := $(VENV)/.installed-dev-$(DEPS_KEY)
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: help run test lint messages migrate seed bench bench-ingest bench-import bench-placement bench-tracking clean distclean install install-dev

help:
	@echo "make run      start web + Celery worker + beat on http://127.0.0.1:$(PORT)/ (login demo / demo)"
	@echo "make test     run the whole test suite (extra pytest args: PYTEST_ARGS='-k foo')"
	@echo "make lint     ruff, ruff format --check, mypy, import-linter, migrations check, catalogs check, check --deploy"
	@echo "make migrate  apply migrations          make seed  migrate and load the demo data"
	@echo "make messages merge the code's marked strings into locale/<lang>/LC_MESSAGES/django.po"
	@echo "make bench    order center benchmark ($(BENCH_ORDERS) orders; BENCH_ORDERS=, BENCH_ARGS=)"
	@echo "make bench-ingest  channel pull + webhook intake benchmark (INGEST_ORDERS=5000, BENCH_ARGS=)"
	@echo "make bench-placement  place and pay under the supplier's rate limit (PLACEMENT_ORDERS=2000, BENCH_ARGS=)"
	@echo "make bench-tracking  poll, merge, claim, calls per day and pushes at N shipments (TRACKING_SHIPMENTS=10000, BENCH_ARGS=)"
	@echo "make bench-import  a 200,000-order import over several 60 s tasks (IMPORT_ORDERS=, IMPORT_TIME_LIMIT=)"
	@echo "make clean    remove .run/ (SQLite, broker files) and caches; make distclean also removes .venv"

# --- Environment ----------------------------------------------------------------------------

$(PY):
	@test -n "$(BOOTSTRAP_PYTHON)" || { echo "Python 3.11+ not found: install python3.11 (or a python3 >= 3.11)." >&2; exit 1; }
	@$(BOOTSTRAP_PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "$(BOOTSTRAP_PYTHON) is older than 3.11: install python3.11." >&2; exit 1; }
	@echo "Creating $(VENV) with $(BOOTSTRAP_PYTHON) ($$($(BOOTSTRAP_PYTHON) --version))"
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)

$(RUN_STAMP): | $(PY)
	@echo "Installing the project into $(VENV) (first run, or pyproject.toml changed)..."
	$(PIP) install --quiet -e .
	@rm -f $(VENV)/.installed-run-*
	@touch $@

$(DEV_STAMP): | $(PY)
	@echo "Installing the project with its dev tools into $(VENV) (first run, or pyproject.toml changed)..."
	$(PIP) install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@ $(RUN_STAMP)

install: $(RUN_STAMP)
install-dev: $(DEV_STAMP)

# --- Run ------------------------------------------------------------------------------------

# After the web process answers, say where it is. The poller is given honcho's pid (the
# recipe shell execs honcho) and gives up as soon as honcho is gone.
define ANNOUNCE_WHEN_READY
import os, sys, time, urllib.request
port, honcho = os.environ["PORT"], int(sys.argv[1])
def honcho_alive():
    try:
        os.kill(honcho, 0)
    except OSError:
        return False
    return True
deadline = time.monotonic() + 600
while time.monotonic() < deadline and honcho_alive():
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
    except OSError:
        time.sleep(0.5)
        continue
    print(f"\n  Zopi order center is up: http://127.0.0.1:{port}/   (log in as demo / demo; Ctrl-C stops)\n", flush=True)
    break
endef
export ANNOUNCE_WHEN_READY

# Dev profile: DEBUG on, settings from the environment otherwise. Nothing set = embedded default
# (SQLite and Celery's filesystem broker in $${ZOPI_RUN_DIR:-.run}); export DATABASE_URL and
# REDIS_URL to use PostgreSQL and Redis. honcho reads no .env file here (-e /dev/null): that
# file belongs to docker compose.
run: export DEBUG := 1
# The sandbox's stores are on 127.0.0.1: the dev profile may call loopback (production never).
run: export OUTBOUND_ALLOW_LOOPBACK := 1
run: export PORT := $(PORT)
run: export SITE_URL := $(or $(SITE_URL),http://127.0.0.1:$(PORT))
run: export PYTHONUNBUFFERED := 1
# The demo's suppliers decide and pay refunds DEMO_PACE times quicker (sandbox_seed): read them
# every couple of minutes (beat's refund sweep runs every 5) instead of hourly.
run: export REFUND_SYNC_MAX_WAIT_MINUTES := $(or $(REFUND_SYNC_MAX_WAIT_MINUTES),2)
run: export PATH := $(abspath $(VENV))/bin:$(PATH)
run: $(RUN_STAMP)
	$(MANAGE) migrate --noinput
	@$(MANAGE) catalogs compile
	$(MANAGE) seed_demo
	@if [ "$${SANDBOX_ENABLED:-1}" != "0" ]; then $(MANAGE) sandbox_seed; fi
	@echo
	@echo "  ================================================================="
	@echo "   Zopi order center   http://127.0.0.1:$(PORT)/"
	@echo "   Log in as           demo / demo (owner), or staff / staff (orders only)"
	@echo "   Starting web, Celery worker (all queues) and beat; Ctrl-C stops all."
	@echo "  ================================================================="
	@echo
	@($(PY) -c "$$ANNOUNCE_WHEN_READY" $$$$ &); exec honcho -f Procfile.dev -e /dev/null start -p $(PORT)

migrate seed: export DEBUG ?= 1
migrate: $(RUN_STAMP)
	$(MANAGE) migrate --noinput

seed: migrate
	$(MANAGE) seed_demo

# --- Test and lint --------------------------------------------------------------------------

# pytest's exit code 5 means "no test collected": that is a failure here, not a pass.
test: $(DEV_STAMP)
	@DEBUG=1 $(MANAGE) catalogs compile
	@rc=0; $(VENV)/bin/pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5): failing." >&2; fi; \
	exit $$rc

# The code's marked strings merged into every language's catalog (GNU gettext's xgettext and
# msgmerge, as Django's makemessages needs); then translate what is new (docs/translating.md).
messages: $(DEV_STAMP)
	DEBUG=1 $(MANAGE) catalogs extract

# Every check runs, then the target fails if any did, so one run shows everything to fix.
# The deploy check runs under a production-like environment with a throwaway random key.
lint: $(DEV_STAMP)
	@failed=(); \
	step() { local label=$$1; shift; echo "--- $$label"; "$$@" || failed+=("$$label"); }; \
	step "ruff check ." $(VENV)/bin/ruff check .; \
	step "ruff format --check ." $(VENV)/bin/ruff format --check .; \
	step "mypy ." env DEBUG=1 $(VENV)/bin/mypy .; \
	step "lint-imports" $(VENV)/bin/lint-imports; \
	step "makemigrations --check --dry-run" env DEBUG=1 $(MANAGE) makemigrations --check --dry-run; \
	step "catalogs check (every marked string translated, placeholders intact, nothing fuzzy)" \
		env DEBUG=1 $(MANAGE) catalogs check --show 30; \
	step "msgfmt --check (GNU gettext's own check of each catalog)" \
		bash -c 'for po in locale/*/LC_MESSAGES/django.po; do msgfmt --check -o /dev/null "$$po" || exit 1; done'; \
	step "check --deploy --fail-level WARNING (DEBUG=0, random SECRET_KEY and FIELD_ENCRYPTION_KEY, ALLOWED_HOSTS=example.com)" \
		env DEBUG=0 ALLOWED_HOSTS=example.com SANDBOX_ENABLED=0 \
		SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))')" \
		FIELD_ENCRYPTION_KEY="$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
		$(MANAGE) check --deploy --fail-level WARNING; \
	if [ $${#failed[@]} -gt 0 ]; then printf 'make lint: FAILED: %s\n' "$${failed[@]}" >&2; exit 1; fi; \
	echo "make lint: all checks passed"

# --- Benchmark ------------------------------------------------------------------------------

# Production-like profile (DEBUG off, so no query log in memory) with the same local
# defaults as the test suite; a separate run dir keeps the demo database untouched.
# Export DATABASE_URL to measure on PostgreSQL.
bench bench-ingest bench-import bench-placement bench-tracking: export DEBUG ?= 0
bench bench-ingest bench-import bench-placement bench-tracking: export SECRET_KEY ?= bench-run-secret-key-0123456789abcdefghijklmnopqrstuvwxyz
bench bench-ingest bench-import bench-placement bench-tracking: export FIELD_ENCRYPTION_KEY ?= bench-run-field-key-0123456789abcdefghijklmnopqrstuvwxyz
bench bench-ingest bench-import bench-placement bench-tracking: export ALLOWED_HOSTS ?= testserver,127.0.0.1,localhost
bench bench-ingest bench-import bench-placement bench-tracking: export SECURE_SSL_REDIRECT ?= 0
bench bench-ingest bench-import bench-placement bench-tracking: export SESSION_COOKIE_SECURE ?= 0
bench bench-ingest bench-import bench-placement bench-tracking: export CSRF_COOKIE_SECURE ?= 0
bench bench-ingest bench-import bench-placement bench-tracking: export STATIC_MANIFEST ?= 0
bench bench-ingest bench-import bench-placement bench-tracking: export ZOPI_RUN_DIR ?= .run/bench
bench: $(DEV_STAMP)
	$(MANAGE) migrate --noinput
	$(MANAGE) bench_order_center --orders $(BENCH_ORDERS) $(BENCH_ARGS)

# The sandbox serves the channel pages (its tables are migrated with it on); the command
# starts its own gunicorn. docs/benchmarks.md, "Channel ingest".
bench-ingest: export SANDBOX_ENABLED ?= 1
bench-ingest: export SANDBOX_IN_PRODUCTION_FOR_TESTS ?= 1
bench-ingest: export OUTBOUND_ALLOW_LOOPBACK ?= 1
bench-ingest: $(DEV_STAMP)
	$(MANAGE) migrate --noinput
	$(MANAGE) bench_ingest --orders $(INGEST_ORDERS) $(BENCH_ARGS)

# Placing and paying under the supplier's call rate limit (the sandbox enforcing it); the command
# starts its own gunicorn. docs/benchmarks.md, "Placement".
bench-placement: export SANDBOX_ENABLED ?= 1
bench-placement: export SANDBOX_IN_PRODUCTION_FOR_TESTS ?= 1
bench-placement: export OUTBOUND_ALLOW_LOOPBACK ?= 1
bench-placement: $(DEV_STAMP)
	$(MANAGE) migrate --noinput
	$(MANAGE) bench_placement --orders $(PLACEMENT_ORDERS) $(BENCH_ARGS)

# Tracking at TRACKING_SHIPMENTS active shipments against the sandbox (17TRACK, Shopify); starts
# its own gunicorn. docs/benchmarks.md, "Tracking".
bench-tracking: export SANDBOX_ENABLED ?= 1
bench-tracking: export SANDBOX_IN_PRODUCTION_FOR_TESTS ?= 1
bench-tracking: export OUTBOUND_ALLOW_LOOPBACK ?= 1
bench-tracking: $(DEV_STAMP)
	$(MANAGE) migrate --noinput
	$(MANAGE) bench_tracking --shipments $(TRACKING_SHIPMENTS) $(BENCH_ARGS)

# A store too big for one task: IMPORT_ORDERS through a real worker whose tasks are killed after
# IMPORT_TIME_LIMIT s (needs REDIS_URL). docs/benchmarks.md, "Resumable import".
bench-import: export SANDBOX_ENABLED ?= 1
bench-import: export SANDBOX_IN_PRODUCTION_FOR_TESTS ?= 1
bench-import: export OUTBOUND_ALLOW_LOOPBACK ?= 1
bench-import: $(DEV_STAMP)
	$(MANAGE) migrate --noinput
	$(MANAGE) bench_pull_import --orders $(IMPORT_ORDERS) --time-limit $(IMPORT_TIME_LIMIT) $(BENCH_ARGS)

# --- Cleanup --------------------------------------------------------------------------------

clean:
	rm -rf .run .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache \
		test-artifacts build staticfiles *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
