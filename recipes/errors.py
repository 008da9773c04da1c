"""How a CLI error reaches the user: one readable line plus the fix, never a traceback.

Library code raises plain ``ValueError`` / ``FileNotFoundError`` / ``FileExistsError`` with a
precise message (what was wrong and where: file, line, key). The CLI catches those here. A
``UserError`` may carry an explicit ``fix``; for the others a generic hint is chosen by type.
"""

from __future__ import annotations

import sys


class UserError(ValueError):
    """A mistake in the user's input, with an optional hint on how to fix it."""

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.fix = fix


_GENERIC_FIX = {
    FileNotFoundError: "check the path (relative paths are taken from the current folder)",
    FileExistsError: "pass --resume to continue the run there, or choose another --out",
    ValueError: "correct the value named above and run again",
}


def report_and_exit(error: BaseException, *, verbose: bool = False) -> None:
    """Print ``error`` as ``error: ...`` + ``fix: ...`` on stderr and exit with status 2."""
    if verbose:
        import traceback

        traceback.print_exception(error)
    fix = getattr(error, "fix", None)
    if fix is None:
        fix = next((hint for kind, hint in _GENERIC_FIX.items() if isinstance(error, kind)), None)
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    print(f"error: {message}", file=sys.stderr)
    if fix:
        print(f"  fix: {fix}", file=sys.stderr)
    sys.exit(2)
