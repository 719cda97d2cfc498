# The two commands a newcomer runs (README, "Quick start"):
#   make verify   set up whatever is missing, then verify the bundled fixtures
#   make test     set up whatever is missing, then run the whole test suite on Debian 12's R and
#                 every R-backed test and `verify` on each other supported R stack
# R stacks (README, "Versions"; scripts/stacks.sh):
#   make verify R_STACK=cran-2026         verify against one stack (built first if missing);
#                                         without R_STACK: whatever R library your R finds (R_LIBS honoured)
#   make test STACKS="cran-2026"          the other stacks make test runs (default: all of them)
#   make stacks                           build every stack (a second run installs nothing)
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=
R_STACK ?=

.PHONY: setup verify test stacks clean-stacks bench doctor clean screenshot snapshots check-snapshots fuzz

setup:
	@bash scripts/setup.sh

verify: setup
ifeq ($(R_STACK),)
	$(BIN)/metaharness verify $(ARGS)
else
	@bash scripts/in-stack.sh $(R_STACK) metaharness verify $(ARGS)
endif

# STACKS is passed on only when given (scripts/stacks.sh has the default list)
test:
	@$(if $(filter-out undefined,$(origin STACKS)),STACKS="$(STACKS)") bash scripts/stacks.sh test $(ARGS)

stacks:
	@$(if $(filter-out undefined,$(origin STACKS)),STACKS="$(STACKS)") bash scripts/stacks.sh install

clean-stacks:
	@bash scripts/stacks.sh clean

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
