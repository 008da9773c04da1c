"""Run a recipe's stages in order, skipping the ones whose inputs have not changed.

Every stage (or sub-stage: one training run, one seed) has a *key*: a hash of its config section
and of the keys of the stages it reads from. A finished stage writes ``RUN/.stages/<name>.json``
with its key; on a rerun a stage whose recorded key matches is skipped, and a stage whose key
changed is re-run together with everything downstream (their keys change with it). Stage outputs
are written into a temporary folder and renamed into place when the stage finishes, except
training, which resumes from its own last checkpoint when killed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from recipes.config import STAGES, RecipeConfig

MARKER_DIR = ".stages"
RECIPE_FILE = "recipe.resolved.yaml"


def stage_key(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class StageRecord:
    name: str
    key: str
    status: str  # "ran" | "skipped" | "planned"
    wall_s: float = 0.0
    outputs: list[str] = field(default_factory=list)


class RunDir:
    """The run folder: markers of finished stages, the resolved recipe, provenance."""

    def __init__(self, root: Path):
        self.root = root
        self.markers = root / MARKER_DIR

    def claim(self, recipe: RecipeConfig, *, force: bool) -> None:
        """Refuse to mix two recipes in one folder; record the resolved recipe and provenance."""
        recorded = self.root / RECIPE_FILE
        if recorded.is_file():
            previous = yaml.safe_load(recorded.read_text()) or {}
            if previous.get("name") != recipe.name and not force:
                raise FileExistsError(
                    f"{self.root} holds a run of recipe {previous.get('name')!r}, not {recipe.name!r}; "
                    "refusing to mix two runs (choose another --out, or pass --force to start over there)"
                )
            if previous.get("name") != recipe.name:
                shutil.rmtree(self.root)
        elif self.root.exists() and any(self.root.iterdir()) and not force:
            raise FileExistsError(
                f"{self.root} exists and is not a midtrain run folder; choose another --out "
                "(or pass --force to use it anyway)"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(recorded, yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
        atomic_write(self.root / "provenance.json", json.dumps(provenance(), indent=1))

    def finished_key(self, name: str) -> str | None:
        marker = self.markers / f"{name}.json"
        if not marker.is_file():
            return None
        return json.loads(marker.read_text()).get("key")

    def mark_finished(self, record: StageRecord) -> None:
        self.markers.mkdir(parents=True, exist_ok=True)
        atomic_write(
            self.markers / f"{record.name}.json",
            json.dumps(
                {
                    "key": record.key,
                    "wall_s": record.wall_s,
                    "outputs": record.outputs,
                    "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                },
                indent=1,
            ),
        )

    def stage_times(self) -> dict[str, float]:
        times = {}
        for marker in sorted(self.markers.glob("*.json")):
            times[marker.stem] = json.loads(marker.read_text()).get("wall_s", 0.0)
        return times


@dataclass
class Stage:
    """One unit of work: ``run(out)`` fills the folder ``out`` and returns the files it wrote."""

    name: str  # e.g. "curate", "train.anneal.seed0"
    group: str  # the STAGES entry it belongs to (for --from/--until)
    key: str
    output: Path
    run: Callable[[Path], list[Path]]
    atomic: bool = True  # False: the stage manages its own resume inside ``output`` (training)


def run_stages(
    stages: list[Stage],
    run_dir: RunDir,
    *,
    from_stage: str | None = None,
    until_stage: str | None = None,
    dry_run: bool = False,
    log: Callable[[str], None] = print,
) -> list[StageRecord]:
    for option, value in (("--from", from_stage), ("--until", until_stage)):
        if value is not None and value not in STAGES:
            raise ValueError(f"{option} {value!r}: unknown stage; stages are {', '.join(STAGES)}")
    first = STAGES.index(from_stage) if from_stage else 0
    last = STAGES.index(until_stage) if until_stage else len(STAGES) - 1
    if first > last:
        raise ValueError(
            f"--from {from_stage} comes after --until {until_stage}; stages run {' -> '.join(STAGES)}"
        )
    records = []
    for stage in stages:
        position = STAGES.index(stage.group)
        if position > last:
            break
        done = run_dir.finished_key(stage.name) == stage.key and stage.output.exists()
        forced = position >= first and from_stage is not None
        if dry_run:
            records.append(
                StageRecord(stage.name, stage.key, "skipped" if done and not forced else "planned")
            )
            continue
        if (done and not forced) or position < first:
            if position < first and not done:
                raise ValueError(
                    f"--from {from_stage}: stage {stage.name} has not finished with this recipe; "
                    "run without --from first"
                )
            log(f"[skip] {stage.name} (unchanged since it finished)")
            records.append(StageRecord(stage.name, stage.key, "skipped"))
            continue
        log(f"[run ] {stage.name}")
        start = time.perf_counter()
        outputs = _run_one(stage, run_dir)
        record = StageRecord(
            stage.name, stage.key, "ran", time.perf_counter() - start, [str(p) for p in outputs]
        )
        run_dir.mark_finished(record)
        records.append(record)
        log(f"[done] {stage.name} in {record.wall_s:.1f} s")
    return records


def _run_one(stage: Stage, run_dir: RunDir) -> list[Path]:
    marker = run_dir.markers / f"{stage.name}.json"
    marker.unlink(missing_ok=True)  # a stage that is re-running is not finished
    if not stage.atomic:
        # The stage resumes inside its folder (training from its last checkpoint), but only work
        # done under the same key may be resumed: a changed config starts from an empty folder.
        key_file = stage.output / ".stage_key"
        if stage.output.exists() and (not key_file.is_file() or key_file.read_text() != stage.key):
            shutil.rmtree(stage.output)
        stage.output.mkdir(parents=True, exist_ok=True)
        key_file.write_text(stage.key)
        return stage.run(stage.output)
    tmp = stage.output.with_name(f".{stage.output.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)  # a killed stage left this: its work is redone from scratch
    tmp.mkdir(parents=True)
    outputs = stage.run(tmp)
    if stage.output.exists():
        shutil.rmtree(stage.output)
    os.replace(tmp, stage.output)
    return [
        stage.output / Path(p).relative_to(tmp) if Path(p).is_relative_to(tmp) else Path(p) for p in outputs
    ]


def provenance() -> dict[str, Any]:
    from training.trainer.setup import package_versions_and_commit

    versions, commit = package_versions_and_commit(
        (
            "midtrain",
            "torch",
            "transformers",
            "datatrove",
            "polars",
            "tokenizers",
            "scikit-learn",
            "fasttext-numpy2-wheel",
            "numpy",
            "pydantic",
        )
    )
    return {
        "python": sys.version.split()[0],
        "packages": versions,
        "git_commit": commit,
        "argv": sys.argv,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def atomic_write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file, so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path
