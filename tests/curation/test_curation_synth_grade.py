"""Model-graded quality: robust grade parsing, distillation into fastText, agreement, applying the model.

The grader is the deterministic ``rule:edu_grade`` backend (grade = distinct teaching words in the
extract, answered in varied formats) behind datatrove's InferenceRunner: with a tiny random model
the grades would be noise, and the test must be able to fail.
"""

import gzip
import json
import random
from pathlib import Path

import pytest

from curation import CurationConfig, run_curation
from curation.synth.grade import agreement, parse_grade
from curation.synth.grade_config import GradeConfig
from curation.synth.local_server import EDU_WORDS, edu_rule_grade

FILLER = ["river", "city", "market", "garden", "people", "morning", "winter", "bridge", "music", "village"]


@pytest.mark.parametrize(
    ("text", "grade"),
    [
        ("The extract is fine. Educational score: 3", 3),
        ("Justification: basic.\n**Score: 4/5**", 4),
        ("I would give this extract 2 points out of 5.", 2),
        ("On a scale of 0 to 5 ... Educational score: 1", 1),
        ("Educational value score is 4.0", 4),
        ("Score: 9", None),  # out of range
        ("no number here", None),
        ("", None),
        ("5", 5),
    ],
)
def test_parse_grade(text, grade):
    assert parse_grade(text) == grade


def _doc(rng: random.Random, num_edu: int) -> str:
    words = [rng.choice(FILLER) for _ in range(60)]
    for w in rng.sample(EDU_WORDS, num_edu):
        for _ in range(3):
            words.insert(rng.randrange(len(words)), w)
    return " ".join(words).capitalize() + "."


def _write(path: Path, docs: list[str], prefix: str) -> None:
    with gzip.open(path, "wt") as f:
        for i, text in enumerate(docs):
            f.write(json.dumps({"id": f"{prefix}{i}", "text": text, "metadata": {"source": "web"}}) + "\n")


def test_grades_distil_into_a_quality_model_that_agrees_and_applies(tmp_path, monkeypatch):
    counter = tmp_path / "generations.txt"
    monkeypatch.setenv("MIDTRAIN_SYNTH_COUNT_FILE", str(counter))
    rng = random.Random(0)
    (tmp_path / "curated").mkdir()
    _write(tmp_path / "curated" / "00000.jsonl.gz", [_doc(rng, rng.randint(0, 5)) for _ in range(300)], "d")
    config = GradeConfig.model_validate(
        {
            "backend": {"kind": "local", "model": "rule:edu_grade", "max_concurrent": 16},
            "inputs": [str(tmp_path / "curated")],
            "sample": 240,
            "threshold": 3,
            "records_per_chunk": 50,
        }
    )
    result = run_grading_checked(config, tmp_path / "grade")
    assert result.num_graded == 240 and result.num_unparsable == 0
    assert len(counter.read_text().splitlines()) == 240
    assert result.num_heldout > 20
    assert result.spearman > 0.6, result
    assert result.f1 > 0.75, result
    report = json.loads(Path(result.report_path).read_text())
    assert report["grader"] == "rule:edu_grade" and report["prompt_id"] == "edu/v1"

    # a rerun resumes: nothing is graded again, the same model comes out
    again = run_grading_checked(config, tmp_path / "grade")
    assert len(counter.read_text().splitlines()) == 240
    assert again.model_path == result.model_path

    # applied like any quality model: the kept documents are the ones the grader likes
    fresh = [_doc(rng, rng.randint(0, 5)) for _ in range(80)]
    with open(tmp_path / "fresh.jsonl", "w") as f:
        for i, text in enumerate(fresh):
            f.write(json.dumps({"id": f"f{i}", "text": text}) + "\n")
    cur = CurationConfig.model_validate(
        {
            "sources": [
                {"name": "web", "path": str(tmp_path / "fresh.jsonl"), "kind": "curated", "filters": []}
            ],
            "executor": {"tasks": 1, "workers": 1},
            "dedup": {"minhash": False},
            "heldout": {"fraction": 0.0, "max_docs": 0},
            **result.apply_with,
        }
    )
    run_curation(cur, tmp_path / "cur")
    kept = []
    for f in (tmp_path / "cur" / "curated" / "web").glob("*.jsonl.gz"):
        with gzip.open(f, "rt") as fh:
            kept += [json.loads(line)["text"] for line in fh]
    dropped = [t for t in fresh if t not in set(kept)]
    assert kept and dropped
    mean = lambda texts: sum(edu_rule_grade(t) for t in texts) / len(texts)  # noqa: E731
    assert mean(kept) > mean(dropped) + 1.0


def run_grading_checked(config, out):
    from curation.synth.grade import run_grading

    return run_grading(config, out)


def test_agreement_figures():
    figures = agreement([0.9, 0.8, 0.2, 0.1], [5, 3, 1, 0], threshold=3)
    assert figures == {"spearman": pytest.approx(1.0), "precision": 1.0, "recall": 1.0, "f1": 1.0}
    flipped = agreement([0.1, 0.2, 0.8, 0.9], [5, 3, 1, 0], threshold=3)
    assert flipped["spearman"] == pytest.approx(-1.0) and flipped["f1"] == 0.0


def test_grading_prompt_with_unknown_field_fails():
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['style'\]"):
        GradeConfig.model_validate(
            {
                "backend": {"kind": "local", "model": "rule:edu_grade"},
                "inputs": ["x"],
                "prompt": "{style} {text}",
            }
        )
