# One entry point for building, running and testing trainvite. `make run` and `make test`
# do every set-up step themselves on a machine that has only Python 3.11, make and git.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
SYNCED := $(VENV)/.synced
GOOGLEAPIS := build/third_party/googleapis
PROTOS := $(shell find protos -name '*.proto')
GENERATED := gen/.generated

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help install proto lint test test-unit test-integration test-e2e fuzz chaos load run demo token call migrate bench clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(SYNCED): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(SYNCED) ## create .venv with the pinned dependencies

$(GOOGLEAPIS)/.copied: $(SYNCED)
	mkdir -p $(GOOGLEAPIS)/google/api
	cp $$($(PY) -c 'import google.api.annotations_pb2 as m, os; print(os.path.dirname(m.__file__))')/*.proto $(GOOGLEAPIS)/google/api/
	@touch $@

$(GENERATED): $(PROTOS) $(GOOGLEAPIS)/.copied
	rm -rf gen && mkdir -p gen
	PATH=$(VENV)/bin:$$PATH $(PY) -m grpc_tools.protoc -I protos -I $(GOOGLEAPIS) \
		--python_out=gen --pyi_out=gen --grpc_python_out=gen --mypy_grpc_out=gen $(PROTOS)
	@touch $@

proto: $(GENERATED) ## generate the Python code of protos/ into gen/

lint: $(GENERATED) ## ruff, mypy and buf lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy services tools tests bench
	$(VENV)/bin/buf lint

test: $(GENERATED) ## all tests: unit, integration (real PostgreSQL and NATS), end-to-end
	$(VENV)/bin/pytest -q --durations=15

test-unit: $(GENERATED) ## pure logic only
	$(VENV)/bin/pytest -q tests/unit

test-integration: $(GENERATED) ## on real PostgreSQL and NATS
	$(VENV)/bin/pytest -q tests/integration

test-e2e: $(GENERATED) ## the three services as processes
	$(VENV)/bin/pytest -q tests/e2e

fuzz: $(GENERATED) ## the long fuzz run: 10,000 generated requests per RPC and event type
	HYPOTHESIS_PROFILE=long $(VENV)/bin/pytest -q -m fuzz tests

chaos: $(GENERATED) ## the long fault scenarios: restarts and kills under a steady flow
	CHAOS_PROFILE=long $(VENV)/bin/pytest -q -m chaos tests
	CRASH_PEOPLE=1000 CRASH_KILLS=20 $(VENV)/bin/pytest -q tests/e2e/test_crash_recovery.py

load: $(GENERATED) ## a gateway-like load for several minutes: rates, latencies, memory per service
	$(PY) -m bench load

run: $(GENERATED) ## run everything: embedded PostgreSQL and NATS unless DATABASE_URL / NATS_URL are set
	$(PY) -m tools.run

migrate: $(GENERATED) ## apply every schema's migrations to DATABASE_URL (or the embedded PostgreSQL)
	$(PY) -m tools.run --migrate-only

demo: $(GENERATED) ## play the chat flow against the running services
	$(PY) -m tools.demo

token: $(GENERATED) ## print a bearer token: make token CSM=... | EDITOR=... | SERVICE=... | GATEWAY=1
	@$(PY) -m tools.token $(if $(CSM),--csm $(CSM),) $(if $(EDITOR),--editor $(EDITOR),) \
		$(if $(SERVICE),--service $(SERVICE),) $(if $(GATEWAY),--gateway,)

call: $(GENERATED) ## call an RPC: make call RPC=GetTrainingGaps DATA='{"name": ...}' [CSM=...] (LIST=1: all)
	@$(PY) -m tools.call $(if $(LIST),--list,) $(if $(CSM),--csm $(CSM),) \
		$(if $(EDITOR),--editor $(EDITOR),) $(if $(SERVICE),--service $(SERVICE),) \
		$(if $(GATEWAY),--gateway,) $(if $(RPC),'$(RPC)' '$(or $(DATA),{})',)

bench: $(GENERATED) ## benchmarks, each beside a raw baseline measured in the same run
	$(PY) -m bench

clean: ## remove generated code and environments (keeps .data)
	rm -rf gen build $(VENV) $(TOOLS)
