#!/usr/bin/env bash
# Run a command against one of the supported R stacks, building the stack first if it is missing:
#
#   scripts/in-stack.sh STACK CMD [ARG...]
#   scripts/in-stack.sh cran-2026 metaharness verify fixtures/bcg
#   scripts/in-stack.sh debian13 python -m pytest -m r --require-r tests/test_r_engine.py
#
# STACK is one of debian12, cran-2026, cran-2025, debian13 (scripts/stacks.sh says what each holds).
# Name commands bare (metaharness, python): the stack's own virtual environment comes first on PATH.
exec bash "$(dirname "$0")/stacks.sh" run "$@"
