# The verbs a person types. Every target installs what it needs first (uv, then the locked environment).
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_HOME := .local/uv
UV := $(shell command -v uv 2>/dev/null || echo $(UV_HOME)/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help install up demo test test-unit test-integration test-e2e test-faults lint format bench asyncapi clean

help:
	@echo "make up      start the whole stack (PostgreSQL, broker, five services) in the foreground"
	@echo "make demo    with make up running: a demo LC, client and members, and a sending through the API"
	@echo "make test    run every test (unit, integration, end-to-end, faults); test-faults: the fault tier alone"
	@echo "make lint    ruff, mypy --strict and the import contracts (import-linter, pyproject.toml)"
	@echo "make bench   benchmarks: import, preparation, transmission and one 1 000 000-member sending end to end"
	@echo "make asyncapi write docs/asyncapi.yaml from the event catalogue (a test checks it is current)"
	@echo "make install only create the environment (.venv)"

$(UV_HOME)/bin/uv:
	@command -v uv >/dev/null 2>&1 || { python3 -m venv $(UV_HOME) && $(UV_HOME)/bin/pip install --quiet uv; }

$(VENV)/.installed: uv.lock pyproject.toml shared/pyproject.toml services/*/pyproject.toml deploy/local/pyproject.toml | $(UV_HOME)/bin/uv
	$(UV) sync --frozen
	@touch $@

install: $(VENV)/.installed

up: install
	$(PY) -m devstack.runner

demo: install
	$(VENV)/bin/messaging-admin demo

test: install
	$(PY) -m pytest

test-unit: install
	$(PY) -m pytest tests/unit

test-integration: install
	$(PY) -m pytest tests/integration

test-e2e: install
	$(PY) -m pytest tests/e2e

test-faults: install
	$(PY) -m pytest tests/faults

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) -m tests.bench.import_members
	$(PY) -m tests.bench.prepare_sending
	$(PY) -m tests.bench.transmit_twilio
	$(PY) -m tests.bench.create_sending
	$(PY) -m tests.bench.sending_requests
	$(PY) -m tests.bench.end_to_end

asyncapi: install
	$(PY) -m shared.asyncapi --write

clean:
	rm -rf .local $(VENV)
