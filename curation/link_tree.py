"""Publishing a work folder into a run's output without copying its bytes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def link_tree(src: Path, dst: Path) -> None:
    """Make ``dst`` a fresh tree of hard links (copies across filesystems) to ``src``'s files.

    A missing ``src`` leaves ``dst`` empty: a source or band with nothing to publish still gets
    its (empty) folder, so readers never confuse "nothing" with "not written".
    """
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    if not src.is_dir():
        return
    for path in sorted(src.rglob("*")):
        if path.is_file():
            target = dst / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(path, target)


def link_file(src: Path, dst: Path) -> None:
    """Replace ``dst`` with a hard link (a copy across filesystems) to ``src``, atomically."""
    tmp = dst.with_name(dst.name + ".tmp")
    tmp.unlink(missing_ok=True)
    _link_or_copy(src, tmp)
    os.replace(tmp, dst)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
