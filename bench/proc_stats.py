"""What the benchmarks read from Linux ``/proc`` about a process and its descendants.

Read from outside, so a measured process runs unchanged: its memory (``VmRSS``, ``VmHWM``), its
CPU seconds, and the tree of processes under it (an executor's forkserver and pool workers).
A process that has exited reads as empty or zero, never as an error: it may end between listing
and reading.
"""

from __future__ import annotations

import os
from pathlib import Path


def memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` (now) and ``VmHWM`` (peak) in KiB; keys absent once the process is gone."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


def peak_kib(pid: int) -> int:
    """``VmHWM``, the process's peak resident set, in KiB (0 once it is gone)."""
    return memory_kib(pid).get("VmHWM", 0)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of the process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def process_tree() -> dict[int, list[int]]:
    """Every live process's children, by parent pid."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    return kids


def descendants(pid: int, tree: dict[int, list[int]] | None = None) -> list[int]:
    """Children, grandchildren, ... of ``pid`` (from ``tree``, or the live process tree)."""
    tree = process_tree() if tree is None else tree
    out, todo = [], [pid]
    while todo:
        for k in tree.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out
