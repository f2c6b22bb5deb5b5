# One command surface for people and CI. Only Python 3.11+ and make are assumed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Never let the Alibaba credentials chain probe the cloud metadata address or a CLI profile.
export ALIBABA_CLOUD_ECS_METADATA_DISABLED := true
export ALIBABA_CLOUD_CLI_PROFILE_DISABLED := true

.DEFAULT_GOAL := help
.PHONY: help dev test lint bench chaos fuzz demo clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "smsq needs Python 3.11+"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

dev: $(STAMP)  ## run the whole stack locally: Redis, emulator, worker, check worker, gateway, Flower
	$(BIN)/smsq dev

demo: $(STAMP)  ## one-shot end-to-end proof
	$(BIN)/smsq demo

test: $(STAMP)  ## run the test suite against real Redis, workers and the emulator
	$(BIN)/python -m ops.testdeps
	$(BIN)/python -m pytest -m "not bench and not chaos" -n 2 --dist loadfile $(PYTEST_ARGS)

fuzz: $(STAMP)  ## the hostile-input suite at full length: 10 000 examples per target
	SMSQ_FUZZ_EXAMPLES=$${SMSQ_FUZZ_EXAMPLES:-10000} $(BIN)/python -m pytest -m fuzz --timeout=7200 \
		--hypothesis-show-statistics $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff, mypy --strict, and the deployment file checks
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m ops.checks

bench: $(STAMP)  ## benchmarks against same-run baselines (smsq/bench), and the quick bench's test
	$(BIN)/smsq bench all --json bench.json --plot bench.png
	$(BIN)/python -m pytest -m bench

chaos: $(STAMP)  ## kill workers, hosts and Redis under load, both pools (smsq/chaos; about 1.5 h)
	$(BIN)/smsq chaos --pool both --json chaos.json --plot chaos.png
	$(BIN)/python -m pytest -m chaos $(PYTEST_ARGS)

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
