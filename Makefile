# Two commands on a fresh machine: `make demo` and `make test`. Each builds .venv by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-live lint bench clean

$(BIN)/provisioner: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/provisioner
	bash scripts/demo.sh

lint: $(BIN)/provisioner
	$(BIN)/ruff check .

test: $(BIN)/provisioner lint
	$(BIN)/pytest -q

# The lifecycle scenario on a real test tenant (docs/real-tenant.md): PROVISIONER_LIVE_TENANT names
# the profile. It cleans up after itself; without the variable it refuses rather than skip quietly.
test-live: $(BIN)/provisioner
	@test -n "$$PROVISIONER_LIVE_TENANT" || { echo "test-live: set PROVISIONER_LIVE_TENANT to a profile of your config.toml (see docs/real-tenant.md)" >&2; exit 2; }
	$(BIN)/pytest -q -rs tests/live

bench: $(BIN)/provisioner
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
