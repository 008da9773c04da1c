"""A recipe's ``synthesize:`` section: the ``model: tiny`` placeholder and the generator behind it.

In a recipe's ``curate.synthesize`` (and in any job's own ``backend``), ``model: tiny`` with
``kind: local`` means the tiny random-weight generator the curate stage writes to
``RUN/curate/generator/`` (``curation.synth.tiny.write_tiny_generator``: a BPE tokenizer trained
on the run's own sources, a ~0.2M-parameter Llama, nothing downloaded). It exists so that a toy
recipe (``recipes/presets/synth-toy.yaml``) runs every synthesis task end to end on a laptop;
its text is noise, and the report says so.
"""

from __future__ import annotations

import copy
import glob
import gzip
import json
from pathlib import Path
from typing import Any

TINY = "tiny"
GENERATOR_DIR = ("curate", "generator")
TOKENIZER_DOCS_PER_SOURCE = 300


def generator_dir(root: Path) -> Path:
    return root.joinpath(*GENERATOR_DIR)


def _backends(synth: dict) -> list[dict]:
    found = [synth.get("backend")] + [job.get("backend") for job in synth.get("jobs") or []]
    return [b for b in found if isinstance(b, dict)]


def resolve_tiny_generator(section: dict[str, Any], root: Path) -> dict[str, Any]:
    """``section`` (a curation config) with every local ``model: tiny`` replaced by its folder."""
    synth = section.get("synthesize")
    if not isinstance(synth, dict) or not any(b.get("model") == TINY for b in _backends(synth)):
        return section
    section = dict(section)
    section["synthesize"] = synth = copy.deepcopy(synth)
    for backend in _backends(synth):
        if backend.get("model") == TINY and backend.get("kind", "local") == "local":
            backend["model"] = str(generator_dir(root))
    return section


def _texts(sources, limit: int) -> list[str]:
    """Up to ``limit`` texts per source from its JSON-lines files (the tokenizer's training text)."""
    texts: list[str] = []
    for source in sources:
        path = Path(source.path)
        files = (
            sorted(path.rglob(source.glob or "*"))
            if path.is_dir()
            else sorted(map(Path, glob.glob(source.path)))
        )
        taken = 0
        for name in map(str, files):
            if not name.endswith((".jsonl", ".jsonl.gz")):
                continue
            opener = gzip.open if name.endswith(".gz") else open
            with opener(name, "rt") as fh:
                for line in fh:
                    if taken >= limit:
                        break
                    if line.strip():
                        text = json.loads(line).get(source.text_key or "text")
                        if isinstance(text, str) and text.strip():
                            texts.append(text)
                            taken += 1
    return texts


def prepare_tiny_generator(config, root: Path) -> Path | None:
    """Write ``RUN/curate/generator`` when the curation config runs on it and it is not there yet."""
    synth = config.synthesize
    folder = generator_dir(root)
    if synth is None or not any(synth.job_backend(job).model == str(folder) for job in synth.jobs):
        return None
    if (folder / "config.json").is_file():
        return folder
    from curation.synth.tiny import write_tiny_generator

    texts = _texts(config.sources, TOKENIZER_DOCS_PER_SOURCE)
    if not texts:
        raise ValueError(
            "curate.synthesize.backend.model: tiny trains its tokenizer on the sources' JSON-lines "
            "text and found none; give a save_pretrained folder instead"
        )
    return write_tiny_generator(folder, texts)
