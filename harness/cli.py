"""Command line: ``metaharness <command>`` (see :mod:`harness.commands`).

Exit status: 0 everything agrees (or the engines run, for doctor); 1 any
difference, engine error or unavailable engine; 2 bad usage or bad input;
3 an internal error (a bug: one line, the traceback with METAHARNESS_DEBUG=1).

Start-up stays light: this module and the commands' ``add_arguments`` import
only argparse and the harness's own light modules; numpy, scipy, pandas,
matplotlib and rpy2 are imported by the commands' ``run`` (tests/test_startup.py).
"""
from __future__ import annotations

import argparse
import sys

from . import __version__
from .errors import InputError


def build_parser() -> argparse.ArgumentParser:
    from .commands import COMMANDS

    p = argparse.ArgumentParser(prog="metaharness", description="Verify a Python meta-analysis core against R (metafor, robumeta), number by number.")
    p.add_argument("--version", action="version", version=f"metaharness {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for mod in COMMANDS:
        sp = sub.add_parser(mod.NAME, help=mod.HELP, description=(mod.__doc__ or "").strip().splitlines()[0])
        mod.add_arguments(sp)
        sp.set_defaults(func=mod.run)
    return p


def _terminated(signum, frame):
    raise KeyboardInterrupt  # SIGTERM (kill, a batch system's time limit) stops a run as Ctrl-C does


def main(argv=None) -> int:
    import signal
    import threading

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on bad usage already
        return int(e.code or 0)
    # A command stopped by SIGTERM ends as an interrupted one: what finished is reported and kept
    # (a campaign's store, an audit's finished files), exit 130. Only in the main thread, where
    # Python runs signal handlers; the previous handler comes back afterwards.
    term = signal.signal(signal.SIGTERM, _terminated) if threading.current_thread() is threading.main_thread() else None
    try:
        return args.func(args)
    except InputError as e:
        print(f"metaharness: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("metaharness: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `metaharness verify | head`
        return 1
    except Exception as e:  # a bug of ours: one clear line, the traceback only on request
        import os
        import traceback

        if os.environ.get("METAHARNESS_DEBUG"):
            traceback.print_exc()
        print(f"metaharness: internal error ({type(e).__name__}: {e}); this is a bug in metaharness, please report it "
              f"(set METAHARNESS_DEBUG=1 for the traceback)", file=sys.stderr)
        return 3
    finally:
        if term is not None:
            signal.signal(signal.SIGTERM, term)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
