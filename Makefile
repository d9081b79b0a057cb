# The two commands of the README: `make demo` and `make test`. Both set up the machine first.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup venv demo test unit check proto clean-venv

setup:
	@bash scripts/setup-host.sh

venv:
	@bash scripts/setup-host.sh --venv-only

demo: setup
	$(VENV)/bin/naas-lab demo

test: setup
	$(PY) -m pytest -q

unit: venv
	$(PY) -m pytest -q -m 'not root'

check: setup
	@for f in topologies/fabrics/*.yaml; do $(VENV)/bin/naas-lab check $$f || exit 1; done

clean-venv:
	rm -rf $(VENV)

# The Python modules of the gRPC API, generated beside proto/naas/v1/*.proto (committed;
# tests/unit/test_proto.py checks they match). PROTO_OUT elsewhere: to compare.
PROTO_OUT ?= proto
proto: venv
	$(PY) -m grpc_tools.protoc -Iproto --python_out=$(PROTO_OUT) --pyi_out=$(PROTO_OUT) \
		--grpc_python_out=$(PROTO_OUT) proto/naas/v1/*.proto
