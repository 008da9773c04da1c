"""Model-graded quality: grade a sample with a model, distil the grades into a fastText classifier.

FineWeb-Edu's recipe at any scale: a grading prompt (educational value 0-5 by default) is run over
a seeded sample of curated documents through datatrove's ``InferenceRunner`` (any backend, so
chunked resume and the request cache hold here too); grades are parsed from the free text
(``parse_grade``: "Educational score: 3", "**Score: 4/5**", "3 points out of 5", ...; an answer
without a grade is counted as ``unparsable``); a binary fastText classifier (grade >= threshold
is ``positive``) is trained with ``curation.classifiers.train_fasttext_classifier`` on part of
the grades and scored against the grader on the rest: Spearman correlation of its score with the
grade, and precision/recall/F1 at the threshold. The model is applied like any quality model:
``classifiers.quality_model: <model_path>`` with ``min_quality`` or ``top_percentile``.

``run_grading(config, out_dir)`` writes ``out_dir/sample/``, ``out_dir/graded/`` (every document
with ``metadata.grade``), ``out_dir/models/<prompt_id>-<hash>.bin`` and ``out_dir/grade_report.json``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from datatrove.data import Document

from curation.synth.grade_config import GradeConfig
from curation.synth.prompts import GRADE_PROMPT, custom_id, render

_NUM = r"(\d+(?:\.\d+)?)"
# Most specific first; within a pattern the last match wins (a model restates the scale before it
# gives its verdict, so "on a 0-5 scale ... Educational score: 3" is 3).
_GRADE_PATTERNS = [
    re.compile(r"educational\s+(?:value\s+)?score\s*(?:is|of|:|=)?\s*\**\s*" + _NUM, re.I),
    re.compile(r"\bscore\s*(?:is|of|:|=)?\s*\**\s*" + _NUM, re.I),
    re.compile(_NUM + r"\s*(?:/|out\s+of)\s*\d+", re.I),
    re.compile(_NUM + r"\s*points?\b", re.I),
    re.compile(r"^\s*\**\s*" + _NUM + r"\s*\**\s*$", re.M),
]


def parse_grade(text: str, max_grade: int = 5) -> int | None:
    """The integer grade in ``text`` (0..max_grade), or None when there is none in range."""
    for pattern in _GRADE_PATTERNS:
        matches = pattern.findall(text or "")
        for value in reversed(matches):
            grade = float(value)
            if 0 <= grade <= max_grade:
                return int(round(grade))
    return None


class GradeRollout:
    """One grading request per document; the parsed grade (or the reason there is none)."""

    def __init__(self, template: str, *, chat: bool, max_input_chars: int, max_grade: int):
        self.template, self.chat = template, chat
        self.max_input_chars, self.max_grade = max_input_chars, max_grade

    async def __call__(self, doc: Document, generate) -> dict:
        md = doc.metadata
        prompt = render(
            self.template,
            text=doc.text,
            max_chars=self.max_input_chars,
            source=md.get("source", ""),
            domain=md.get("domain", "general"),
            id=doc.id,
        )
        payload = {"messages": [{"role": "user", "content": prompt}]} if self.chat else {"prompt": prompt}
        result = await generate(payload)
        grade = parse_grade(result.text, self.max_grade)
        return {
            "grade": grade,
            "answer": result.text[-300:],
            "reject": None if grade is not None else "unparsable",
        }


def _input_files(paths: list[str]) -> list[Path]:
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.rglob("*.jsonl.gz")) + sorted(p.rglob("*.jsonl"))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"grade.inputs: {p} does not exist")
    if not files:
        raise FileNotFoundError(f"grade.inputs: no jsonl[.gz] files under {paths}")
    return files


def write_sample(config: GradeConfig, folder: Path) -> int:
    """A seeded sample of ``config.sample`` documents (reservoir over all inputs), one shard."""
    rng = random.Random(config.seed)
    reservoir: list[str] = []
    seen = 0
    for f in _input_files(config.inputs):
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt") as fh:
            for line in fh:
                if not line.strip():
                    continue
                seen += 1
                if len(reservoir) < config.sample:
                    reservoir.append(line.rstrip("\n"))
                elif (j := rng.randrange(seen)) < config.sample:
                    reservoir[j] = line.rstrip("\n")
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "00000.jsonl.gz", "wt") as out:
        for line in reservoir:
            out.write(line + "\n")
    return len(reservoir)


@dataclass
class GradeResult:
    num_graded: int
    num_unparsable: int
    grade_histogram: dict[str, int]
    threshold: int
    model_path: str
    num_train: int
    num_heldout: int
    spearman: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    apply_with: dict
    report_path: str = ""


def _heldout(doc_id: str, fraction: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{doc_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def agreement(scores: list[float], grades: list[int], threshold: int) -> dict:
    """Spearman of classifier score vs grade; precision/recall/F1 of score >= 0.5 vs grade >= threshold."""
    from scipy.stats import spearmanr
    from sklearn.metrics import precision_recall_fscore_support

    rho = spearmanr(scores, grades).statistic if len(set(grades)) > 1 and len(set(scores)) > 1 else None
    y_true = [g >= threshold for g in grades]
    y_pred = [s >= 0.5 for s in scores]
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="binary", zero_division=0)
    return {
        "spearman": None if rho is None else float(rho),
        "precision": float(p),
        "recall": float(r),
        "f1": float(f),
    }


def run_grading(config: GradeConfig, out_dir: str | Path, *, workers: int = 1) -> GradeResult:
    """Grade, distil, report (see the module docstring). Reruns resume: graded chunks are kept."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from curation.classifiers.quality import score_texts
    from curation.classifiers.train import train_fasttext_classifier
    from curation.synth.backend import SynthRunner, check_backend, inference_config

    check_backend(config.backend, where="grade.backend")
    out = Path(out_dir)
    if config.prompt is not None:
        prompt_id, template = custom_id(config.prompt_id, config.prompt), config.prompt
    else:
        prompt_id, template = GRADE_PROMPT
    key = hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:12]
    work = out / "work" / key
    if not (work / "sample" / "00000.jsonl.gz").is_file():
        write_sample(config, work / "sample")
    rollout = GradeRollout(
        template, chat=config.backend.chat, max_input_chars=config.max_input_chars, max_grade=config.max_grade
    )
    runner = SynthRunner(
        rollout,
        inference_config(config.backend, config.generation),
        JsonlWriter(str(work / "graded"), output_filename="${rank}_chunk_${chunk_index}.jsonl.gz"),
        checkpoints_local_dir=str(work / "checkpoints"),
        records_per_chunk=config.records_per_chunk,
        skip_bad_requests=True,
    )
    reader = JsonlReader(str(work / "sample"), glob_pattern="*.jsonl.gz", add_file_path=False)
    LocalPipelineExecutor(
        [reader, runner], tasks=1, workers=workers, logging_dir=str(work / "logs"), skip_completed=True
    ).run()

    graded: list[tuple[str, str, int]] = []
    unparsable = 0
    for doc in JsonlReader(str(work / "graded"), glob_pattern="*.jsonl.gz", add_file_path=False)():
        for r in doc.metadata.get("rollout_results") or []:
            if r.get("grade") is None:
                unparsable += 1
            else:
                graded.append((doc.id, doc.text, int(r["grade"])))
    if not graded:
        raise ValueError(
            f"grading: no answer held a grade ({unparsable} unparsable); check the prompt and model"
        )
    histogram = {str(g): sum(1 for *_, x in graded if x == g) for g in range(config.max_grade + 1)}
    test = [g for g in graded if _heldout(g[0], config.holdout_fraction, config.seed)]
    train = [g for g in graded if not _heldout(g[0], config.holdout_fraction, config.seed)]
    examples = {
        "positive": [t for _, t, g in train if g >= config.threshold],
        "negative": [t for _, t, g in train if g < config.threshold],
    }
    for label, texts in examples.items():
        if not texts:
            raise ValueError(
                f"grading: no {label} training documents at threshold {config.threshold} "
                f"(grades {histogram}); lower or raise grade.threshold"
            )
    eval_examples = {
        "positive": [t for _, t, g in test if g >= config.threshold],
        "negative": [t for _, t, g in test if g < config.threshold],
    }
    report = train_fasttext_classifier(
        examples,
        out / "models",
        name=config.prompt_id,
        config=config.fasttext,
        positive_label="positive",
        eval_examples=eval_examples if all(eval_examples.values()) else None,
    )
    scores = score_texts(report.model_path, [t for _, t, _ in test]) if test else []
    agree = (
        agreement(scores, [g for *_, g in test], config.threshold)
        if test
        else dict.fromkeys(("spearman", "precision", "recall", "f1"))
    )
    result = GradeResult(
        num_graded=len(graded),
        num_unparsable=unparsable,
        grade_histogram=histogram,
        threshold=config.threshold,
        model_path=report.model_path,
        num_train=len(train),
        num_heldout=len(test),
        apply_with={"classifiers": {"quality_model": report.model_path, "min_quality": 0.5}},
        **agree,
    )
    result.report_path = str(out / "grade_report.json")
    payload = {
        **asdict(result),
        "prompt_id": prompt_id,
        "grader": config.backend.model,
        "backend": config.backend.kind,
    }
    Path(result.report_path).write_text(json.dumps(payload, indent=2) + "\n")
    return result
