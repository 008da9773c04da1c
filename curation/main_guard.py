"""Refuse a local multi-worker run started from a script's unguarded top level.

datatrove's local executor starts its workers through ``multiprocess``'s forkserver, which
re-imports the main script in the worker. A script that calls ``run_curation`` at its top level,
not under ``if __name__ == "__main__":``, then starts a second run inside the worker: that one is
refused by the run lock, the worker dies, and the first run waits for it forever (seen: a
silent hang, the only trace a ``RunLockedError`` in the worker's stderr). Checked before any
work, from the caller's frames and the script's syntax tree:

- called while the worker re-imports the script (its top level runs as ``__mp_main__``): refused;
- called from the main script's top level at a line outside an ``if __name__ == "__main__":``
  block (directly, or through a function called from there): refused, naming the file and line.

A notebook, ``python -c``, a console script, a test runner or any call from inside a function
that the script calls under the guard passes untouched.
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path


class UnguardedMainError(RuntimeError):
    """The one-line error; names the script, the line and the fix."""


def _is_main_test(node: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq)):
        return False
    sides = [node.left, node.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(consts) == 1


@cache
def _guarded_lines(path: str) -> tuple[tuple[int, int], ...] | None:
    """Line ranges of the top-level ``if __name__ == "__main__":`` bodies; None: not Python."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=path)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    return tuple(
        (node.body[0].lineno, node.body[-1].end_lineno or node.body[-1].lineno)  # not its else:
        for node in tree.body
        if isinstance(node, ast.If) and _is_main_test(node.test)
    )


def _is_main_script(path: str) -> bool:
    """``path`` is the file ``python`` was started with (not a notebook cell or ``-c``)."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    try:
        return main_file is not None and Path(main_file).resolve() == Path(path).resolve()
    except OSError:
        return False


def check_main_guard(what: str) -> None:
    """Raise ``UnguardedMainError`` when ``what`` would start workers that re-run the script."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>":
            name = frame.f_globals.get("__name__")
            path = frame.f_code.co_filename
            if name == "__mp_main__":
                raise UnguardedMainError(
                    f"{path}: {what} was called while a worker re-imported this script; "
                    'put the call under `if __name__ == "__main__":`'
                )
            if name == "__main__" and _is_main_script(path):
                ranges = _guarded_lines(path)
                line = frame.f_lineno
                if ranges is not None and not any(start <= line <= end for start, end in ranges):
                    raise UnguardedMainError(
                        f"{path}:{line}: {what} with several local workers at the script's top level: "
                        "datatrove's workers re-import the script and would start the run again; "
                        'put the call under `if __name__ == "__main__":` (or set executor.workers: 1)'
                    )
                return
        frame = frame.f_back
