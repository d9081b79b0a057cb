# The two commands of the README: `make demo` and `make test`. Both set up the machine first.
VENV ?= .venv
PY := $(VENV)/bin/python
FABRIC ?= lumen-qts

.PHONY: setup venv demo test unit check clean-venv

setup:
	@bash scripts/setup-host.sh

venv:
	@bash scripts/setup-host.sh --venv-only

demo: setup
	$(VENV)/bin/naas-lab measure --fabric $(FABRIC) --seconds 2

test: setup
	$(PY) -m pytest -q

unit: venv
	$(PY) -m pytest -q -m 'not root'

check: setup
	@for f in topologies/fabrics/*.yaml; do $(VENV)/bin/naas-lab check $$f || exit 1; done

clean-venv:
	rm -rf $(VENV)
