# The two commands a newcomer runs (README, "Quick start"):
#   make verify   set up whatever is missing, then verify the bundled fixtures
#   make test     set up whatever is missing, then run the whole test suite
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: setup verify test bench doctor clean screenshot

setup:
	@bash scripts/setup.sh

verify: setup
	$(BIN)/metaharness verify $(ARGS)

test:
	@bash scripts/setup.sh --browser
	$(BIN)/python -m pytest --require-r $(ARGS)

doctor: setup
	$(BIN)/metaharness doctor

screenshot:
	@bash scripts/setup.sh --browser
	$(BIN)/python scripts/screenshot.py $(ARGS)

bench: setup
	$(BIN)/python bench/run.py $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
