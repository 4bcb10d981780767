# Two entry points (see README): `make run` and `make test`. Each creates .venv and installs
# what it needs from pyproject.toml, so both work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= out/deit_tiny

.PHONY: run test lint bench clean

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[train]'
	touch $@

# The browser test (tests/test_browser.py) drives Debian's chromium through playwright; as
# root without chromium, try to install it (a failure only makes that test skip).
$(VENV)/.test: $(VENV)/.base
	$(BIN)/pip install -q -e '.[train,test,models,onnx]'
	@if [ "$$(id -u)" = 0 ] && ! command -v chromium >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	  >/dev/null 2>&1 || echo "chromium not installed: tests/test_browser.py will skip"; fi
	touch $@

run: $(VENV)/.base
	$(BIN)/accelsim run --arch vitality --workload deit_tiny --out $(OUT)

test: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(VENV)/.test
	$(BIN)/python benchmarks/engine_speed.py
	$(BIN)/python benchmarks/trace_time.py
	$(BIN)/python benchmarks/attention_cpu.py
	$(BIN)/python benchmarks/speed_cli.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .hypothesis
