# The two commands a newcomer runs (README, "Quick start"):
#   make verify   set up whatever is missing, then verify the bundled fixtures
#   make test     set up whatever is missing, then run the whole test suite
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: setup verify test bench doctor clean screenshot snapshots check-snapshots fuzz

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

# Golden snapshots of the bundled fixtures (README, "Regression testing"):
#   make snapshots        regenerate snapshots/ (commit the diff: it shows every number that moved)
#   make check-snapshots  verify every fixture and report any change since snapshots/
snapshots: setup
	$(BIN)/metaharness snapshot --out snapshots $(ARGS)

check-snapshots: setup
	$(BIN)/metaharness verify --against-snapshot snapshots $(ARGS)

# Random-dataset campaign (differential testing), e.g. make fuzz ARGS="--n 10000 --seed 1"
fuzz: setup
	$(BIN)/metaharness fuzz $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
