"""A script that starts local workers from its unguarded top level is refused, not left hanging."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

CALL = """
from curation import run_curation
run_curation({{"sources": [{{"name": "a", "path": {src!r}, "domain": "general"}}],
               "dedup": {{"minhash": False}}, "executor": {{"tasks": 2, "workers": {workers}}}}}, {out!r})
"""


def _script(tmp_path, body: str) -> subprocess.CompletedProcess:
    script = tmp_path / "curate_me.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )


@pytest.fixture
def call(tmp_path):
    src = tmp_path / "src.jsonl"
    src.write_text("".join(json.dumps({"text": f"doc {i} " * 30, "id": str(i)}) + "\n" for i in range(20)))

    def make(workers: int, source=None) -> str:
        return CALL.format(src=str(source or src), workers=workers, out=str(tmp_path / "out"))

    return make


def test_unguarded_top_level_call_is_refused_with_file_and_line(tmp_path, call):
    done = _script(tmp_path, call(2))
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "UnguardedMainError" in last and "curate_me.py:3:" in last, done.stderr[-2000:]
    assert 'if __name__ == "__main__":' in last
    assert not (tmp_path / "out").exists()  # refused before any work


def test_unguarded_call_through_a_function_is_refused(tmp_path, call):
    body = "def main():\n" + textwrap.indent(call(0), "    ") + "\nmain()\n"
    done = _script(tmp_path, body)
    assert "UnguardedMainError" in done.stderr and "curate_me.py:" in done.stderr


@pytest.mark.parametrize("guarded, workers", [(True, 2), (False, 1)])
def test_guarded_script_or_one_worker_passes_the_check(tmp_path, call, guarded, workers):
    # a missing source: the run stops in preflight, after the guard check, without running anything
    body = call(workers, source=tmp_path / "missing.jsonl")
    if guarded:
        body = (
            "def main():\n" + textwrap.indent(body, "    ") + '\n\nif __name__ == "__main__":\n    main()\n'
        )
    done = _script(tmp_path, body)
    assert done.returncode != 0
    assert "UnguardedMainError" not in done.stderr
    assert "missing.jsonl" in done.stderr.strip().splitlines()[-1]
