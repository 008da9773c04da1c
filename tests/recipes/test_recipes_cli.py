"""The `midtrain` command: every stage has a subcommand with help; errors are one line, not a traceback."""

import subprocess
import sys


def _midtrain(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "recipes.cli", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_help_lists_every_stage():
    result = _midtrain("--help")
    assert result.returncode == 0
    for command in ("curate", "plan", "tokenize", "train", "average", "eval", "run", "demo"):
        assert command in result.stdout


def test_user_error_is_one_line_plus_fix(tmp_path):
    result = _midtrain("run", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error: ") and "missing.yaml" in lines[0]
    assert lines[1].strip().startswith("fix: ")


def test_demo_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("user data")
    result = _midtrain("demo", "--out", str(tmp_path))
    assert result.returncode == 2 and "not a midtrain run folder" in result.stderr
    assert (tmp_path / "keep.txt").read_text() == "user data"
