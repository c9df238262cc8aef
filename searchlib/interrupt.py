"""Ctrl-C in the command line: one line and exit 130 (128 + SIGINT, what shells report).

Kept free of heavy imports so the entry point can install it before anything else loads.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from typing import NoReturn

EXIT_INTERRUPTED = 130


def exit_interrupted() -> NoReturn:
    """Report the interrupt and exit. Further Ctrl-Cs are ignored from here on, so they
    cannot land in the clean-up that runs while exiting (the `Exception ignored in ...
    __del__` noise of an interrupted finalizer)."""
    with contextlib.suppress(ValueError):  # only the main thread may set handlers
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        fresh_line = "\n" if sys.stderr.isatty() else ""  # after the terminal's "^C"
        sys.stderr.write(f"{fresh_line}searchlib: interrupted\n")
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
    sys.exit(EXIT_INTERRUPTED)
