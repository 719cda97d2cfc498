"""Sub-commands of ``metaharness``: one module each, registered in :data:`COMMANDS`.

Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int`` (the exit status).
"""
from . import audit, doctor, fuzz, kinds, snapshot, verify

#: the sub-commands, in the order ``--help`` lists them; add new modules here
COMMANDS = [verify, kinds, doctor, snapshot, fuzz, audit]
