# The two commands of the README: `make demo` and `make test`. Both set up the machine first.
VENV ?= .venv
PY := $(VENV)/bin/python
BUF := $(VENV)/bin/buf

.PHONY: setup venv demo test unit gates lint typecheck proto-check check proto proto-image clean-venv

setup:
	@bash scripts/setup-host.sh

venv:
	@bash scripts/setup-host.sh --venv-only

demo: setup
	$(VENV)/bin/naas-lab demo

# The gates first (seconds), then every test.
test: setup gates
	$(PY) -m pytest -q

unit: venv
	$(PY) -m pytest -q -m 'not root'

gates: lint typecheck proto-check

# ruff's lint rules and formatting over the whole repository (configured in pyproject.toml).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy over the pure core (configured in pyproject.toml).
typecheck: venv
	$(VENV)/bin/mypy

# The API: buf lint; buf breaking against the committed image of the previous API
# (proto/naas-v1.binpb); and the committed Python modules are what the .proto files give.
proto-check: venv
	cd proto && ../$(BUF) lint
	cd proto && ../$(BUF) breaking --against naas-v1.binpb
	@out=$$(mktemp -d) && trap 'rm -rf "$$out"' EXIT && \
		$(MAKE) -s proto PROTO_OUT=$$out && \
		diff -r -x __init__.py -x '*.proto' -x __pycache__ $$out/naas/v1 proto/naas/v1 >/dev/null || \
		{ echo 'proto/naas/v1: the generated modules differ from the .proto files: run make proto and commit'; exit 1; }

check: setup
	@$(VENV)/bin/naas-lab check topologies/fabrics/*.yaml

clean-venv:
	rm -rf $(VENV)

# The Python modules of the gRPC API, generated beside proto/naas/v1/*.proto (committed;
# `make proto-check` checks they match). PROTO_OUT elsewhere: to compare. Needs the tools
# the venv has (grpcio-tools); it never builds the venv itself.
PROTO_OUT ?= proto
proto:
	$(PY) -m grpc_tools.protoc -Iproto --python_out=$(PROTO_OUT) --pyi_out=$(PROTO_OUT) \
		--grpc_python_out=$(PROTO_OUT) proto/naas/v1/*.proto

# After a deliberate change of the API that buf breaking refuses (a new major version, say),
# or to record the API as released: the image the next changes are checked against.
proto-image:
	cd proto && ../$(BUF) build --exclude-source-info -o naas-v1.binpb
