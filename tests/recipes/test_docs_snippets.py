"""Every code block in README.md and docs/*.md runs or is checked here, unless marked not runnable.

* ```python blocks run, each in a fresh interpreter, in a scratch folder holding the small files
  the docs refer to (``runs/curated/inventory.parquet``, ``runs/curate/curated/``, ``train.yaml``).
* ```bash blocks: every ``midtrain <command>`` names a real command and only options it has.
* ```yaml blocks parse.

A block is marked not runnable with ``<!-- not-run: why -->`` on the line before its fence (a
fragment that needs the reader's own objects or data).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
NOT_RUN = re.compile(r"<!--\s*not-run\b[^>]*-->\s*$")


def code_blocks() -> list[tuple[str, int, str, str, bool]]:
    """(file, line, language, code, marked not-run) for every fenced block."""
    blocks = []
    for doc in DOCS:
        text = doc.read_text()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            blocks.append((doc.name, line, match.group(1), match.group(2), bool(NOT_RUN.search(before))))
    return blocks


BLOCKS = code_blocks()


def _ids(kind: str) -> list:
    return [
        pytest.param(code, id=f"{name}:{line}")
        for name, line, lang, code, skip in BLOCKS
        if lang == kind and not skip
    ]


def test_every_block_has_a_known_language_or_is_marked():
    unknown = [
        f"{n}:{line}"
        for n, line, lang, _, skip in BLOCKS
        if lang not in ("python", "bash", "yaml") and not skip
    ]
    assert not unknown, f"blocks without python/bash/yaml (mark them <!-- not-run: ... -->): {unknown}"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """The small files the docs' examples read."""
    import polars as pl

    from training.trainer.testing import write_tiny_workspace

    root = tmp_path_factory.mktemp("docs")
    (root / "runs" / "curated").mkdir(parents=True)
    pl.DataFrame(
        {
            "source": ["web", "wiki", "gsm", "code"],
            "domain": ["general", "general", "math", "code"],
            "num_tokens": [3_000_000_000, 500_000_000, 400_000_000, 600_000_000],
            "mean_difficulty": [0.0, 0.5, 1.5, 1.0],
        }
    ).write_parquet(root / "runs" / "curated" / "inventory.parquet")
    (root / "runs" / "cur").mkdir()
    (root / "runs" / "cur" / "inventory.parquet").write_bytes(
        (root / "runs" / "curated" / "inventory.parquet").read_bytes()
    )
    curated = root / "runs" / "curate" / "curated" / "web"
    curated.mkdir(parents=True)
    words = [
        "the",
        "model",
        "reads",
        "data",
        "and",
        "the",
        "loss",
        "falls",
        "as",
        "the",
        "steps",
        "go",
        "by",
        "while",
        "tokens",
        "flow",
    ]
    with gzip.open(curated / "00000.jsonl.gz", "wt") as f:
        for i in range(200):
            text = " ".join(words[(i + k) % len(words)] for k in range(40))
            f.write(json.dumps({"text": text, "id": str(i), "metadata": {}}) + "\n")
    write_tiny_workspace(root / "tiny")
    train = {
        "run_dir": str(root / "runs" / "train"),
        "tokens_dir": str(root / "tiny" / "tokens"),
        "plan_path": str(root / "tiny" / "plan.parquet"),
        "model": {"tiny": {"hidden_size": 32, "intermediate_size": 64}},
        "micro_batch_size": 4,
        "global_batch_tokens": 256,
        "max_steps": 4,
        "checkpoint": {"export_hf_steps": [2]},
        "progress": False,
    }
    (root / "train.yaml").write_text(yaml.safe_dump(train))
    return root


@pytest.mark.parametrize("code", _ids("python"))
def test_python_block_runs(code, scratch):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=scratch, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _commands() -> dict[str, set[str]]:
    import click
    import typer

    from recipes.cli import _register_all, app

    _register_all()
    root = typer.main.get_command(app)
    found: dict[str, set[str]] = {}

    def walk(cmd: click.Command, path: str) -> None:
        found[path] = {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)} | {"--help"}
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())

    walk(root, "")
    return found


@pytest.mark.parametrize("code", _ids("bash"))
def test_bash_block_names_real_commands_and_options(code):
    commands = _commands()
    for raw in code.replace("\\\n", " ").splitlines():
        line = raw.split("#", 1)[0].strip()
        if "midtrain" not in line.split()[:4] and not line.startswith("midtrain"):
            continue
        words = line.split()
        words = words[words.index("midtrain") + 1 :] if "midtrain" in words else words[1:]
        path = ""
        for word in words:
            if f"{path} {word}".strip() in commands:
                path = f"{path} {word}".strip()
            else:
                break
        assert path, f"{line!r}: not a midtrain command"
        options = {w.split("=")[0].strip("[]") for w in words if w.strip("[").startswith("--")}
        unknown = options - commands[path]
        assert not unknown, f"{line!r}: `midtrain {path}` has no option(s) {sorted(unknown)}"


@pytest.mark.parametrize("code", _ids("yaml"))
def test_yaml_block_parses(code):
    assert isinstance(yaml.safe_load(code), dict)
