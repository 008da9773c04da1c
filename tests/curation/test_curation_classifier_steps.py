"""The datatrove steps: QualityScorer, DomainTagger, DifficultyTierer (inline docs and a real executor)."""

from __future__ import annotations

import gzip
import json
import math
import random

import pytest
from datatrove.data import Document

from curation.classifiers import (
    DifficultyConfig,
    DifficultyTierer,
    DomainTagger,
    FastTextConfig,
    QualityScorer,
    compute_source_thresholds,
    difficulty_score,
    thresholds_from_scores,
    train_fasttext_classifier,
)

FAST = FastTextConfig(dim=16, bucket=5_000, epochs=10, lr=0.5)
VOCAB = {
    "math": ["integral", "derivative", "theorem", "equation", "solve", "prove", "lemma", "sum"],
    "code": ["def", "return", "import", "class", "self", "print", "lambda", "yield"],
    "general": ["river", "castle", "king", "summer", "village", "music", "story", "painter"],
}
JUNK = ["click", "buy", "cheap", "free", "offer", "casino", "win", "deal"]


def docs_of(words, n, seed, noise=0.3):
    rng = random.Random(seed)
    filler = ["the", "a", "of", "and", "to", "in"]
    return [
        " ".join(rng.choice(words) if rng.random() > noise else rng.choice(filler) for _ in range(20))
        for _ in range(n)
    ]


@pytest.fixture(scope="module")
def quality_model(tmp_path_factory):
    good = docs_of(VOCAB["math"] + VOCAB["general"], 120, 0)
    bad = docs_of(JUNK, 120, 1)
    out = tmp_path_factory.mktemp("quality")
    return train_fasttext_classifier(
        {"positive": good, "negative": bad}, out, name="q", config=FAST
    ).model_path


@pytest.fixture(scope="module")
def domain_model(tmp_path_factory):
    examples = {label: docs_of(words, 80, i) for i, (label, words) in enumerate(VOCAB.items())}
    out = tmp_path_factory.mktemp("domain")
    return train_fasttext_classifier(examples, out, name="d", config=FAST).model_path


def mixed_docs():
    """Per source: 6 good and 4 junk documents, interleaved."""
    docs = []
    for source, seed in (("web", 10), ("books", 20)):
        good = docs_of(VOCAB["general"], 6, seed)
        bad = docs_of(JUNK, 4, seed + 1)
        for i, text in enumerate(good + bad):
            docs.append(Document(text=text, id=f"{source}-{i}", metadata={"source": source}))
    random.Random(0).shuffle(docs)
    return docs


def test_scorer_annotates_scores_in_unit_interval_and_keeps_all_by_default(quality_model):
    step = QualityScorer(quality_model)
    out = list(step.run(iter(mixed_docs())))
    assert len(out) == 20
    scores = {d.id: d.metadata["quality_score"] for d in out}
    assert all(0.0 <= s <= 1.0 for s in scores.values())
    good = [s for k, s in scores.items() if int(k.split("-")[1]) < 6]
    junk = [s for k, s in scores.items() if int(k.split("-")[1]) >= 6]
    assert min(good) > max(junk)


def test_threshold_keeps_exactly_docs_at_or_above_it(quality_model):
    scored = {d.id: d.metadata["quality_score"] for d in QualityScorer(quality_model).run(iter(mixed_docs()))}
    threshold = sorted(scored.values())[7]  # a real score: checks the >= boundary too
    step = QualityScorer(quality_model, threshold=threshold)
    kept = {d.id for d in step.run(iter(mixed_docs()))}
    assert kept == {k for k, s in scored.items() if s >= threshold}
    assert step.stats["dropped"].total == 20 - len(kept)
    assert step.stats["dropped_low_quality"].total == 20 - len(kept)


def test_top_percentile_is_per_source_and_two_pass_modes_agree(quality_model, tmp_path):
    step = QualityScorer(quality_model, top_percentile=25)
    kept = list(step.run(iter(mixed_docs())))
    by_source = {s: [d for d in kept if d.metadata["source"] == s] for s in ("web", "books")}
    # ceil(10 * 25 / 100) = 3 best of each source, all of them good documents.
    assert {s: len(v) for s, v in by_source.items()} == {"web": 3, "books": 3}
    all_scored = list(QualityScorer(quality_model).run(iter(mixed_docs())))
    for source, docs in by_source.items():
        scores = sorted(
            (d.metadata["quality_score"] for d in all_scored if d.metadata["source"] == source), reverse=True
        )
        assert sorted((d.metadata["quality_score"] for d in docs), reverse=True) == scores[:3]
    # Pass 1 over the same documents, then a task-local pass 2 (works with many tasks): same result.
    thresholds = compute_source_thresholds(quality_model, mixed_docs(), 25, out_path=tmp_path / "t.json")
    two_pass = QualityScorer(quality_model, top_percentile=25, source_thresholds=tmp_path / "t.json")
    kept_ids = {d.id for d in two_pass.run(iter(mixed_docs()), rank=1, world_size=4)}
    assert kept_ids == {d.id for d in kept}
    assert set(thresholds) == {"web", "books"}


def test_top_percentile_refuses_unsafe_setups(quality_model):
    with pytest.raises(ValueError, match="4 tasks"):
        list(QualityScorer(quality_model, top_percentile=10).run(iter(mixed_docs()), rank=0, world_size=4))
    step = QualityScorer(quality_model, top_percentile=10, source_thresholds={"web": 0.5})
    with pytest.raises(ValueError, match="source 'books' has no quality threshold"):
        list(step.run(iter(mixed_docs())))
    with pytest.raises(ValueError, match="top_percentile"):
        QualityScorer(quality_model, top_percentile=0)
    with pytest.raises(FileNotFoundError, match="no fastText quality model"):
        QualityScorer("/nonexistent/model.bin")


def test_thresholds_from_scores_counts_ceil():
    t = thresholds_from_scores({"a": [0.1, 0.9, 0.5, 0.7], "b": [0.3]}, 50)
    assert t == {"a": 0.7, "b": 0.3}
    assert thresholds_from_scores({"a": [0.2, 0.4, 0.6]}, 10) == {"a": 0.6}  # at least one doc


def test_domain_tagger_labels_documents(domain_model):
    docs = [
        Document(text=text, id=f"{label}-{i}", metadata={})
        for label, words in VOCAB.items()
        for i, text in enumerate(docs_of(words, 15, 100 + len(label)))
    ]
    step = DomainTagger(domain_model, labels=["math", "code", "general"], save_scores=True)
    out = list(step.run(iter(docs)))
    correct = sum(d.metadata["domain"] == d.id.split("-")[0] for d in out)
    assert correct >= 0.9 * len(out)
    assert all(0.0 <= d.metadata["domain_confidence"] <= 1.0 for d in out)
    assert all(math.isclose(sum(d.metadata["domain_scores"].values()), 1.0, abs_tol=1e-3) for d in out)
    # Nothing is confident enough at 1.0: documents without a hint fall back to the default domain.
    fresh = [Document(text=d.text, id=d.id, metadata={}) for d in docs[:5]]  # the run above set a domain
    unsure = list(DomainTagger(domain_model, min_confidence=1.0).run(iter(fresh)))
    assert {d.metadata["domain"] for d in unsure} == {"general"}
    with pytest.raises(ValueError, match="differ from labels"):
        DomainTagger(domain_model, labels=["math", "code", "reasoning"])


def test_domain_tagger_without_model_uses_hint():
    docs = [
        Document(text="x", id="1", metadata={"domain": "math"}),
        Document(text="x", id="2", metadata={}),
        Document(text="x", id="3", metadata={"domain": "poetry"}),
    ]
    out = list(DomainTagger(labels=["math", "code", "general"]).run(iter(docs)))
    assert [(d.metadata["domain"], d.metadata["domain_confidence"]) for d in out] == [
        ("math", 1.0), ("general", 0.0), ("general", 0.0),
    ]  # fmt: skip


def test_difficulty_tiers_are_monotone_in_each_signal():
    config = DifficultyConfig(num_tiers=4)
    base = "The cat sat on the mat and looked at the birds."

    def score(text, **meta):
        return difficulty_score(text, meta, config)

    lengths = [score(" ".join([base] * k)) for k in (1, 5, 25, 125)]
    assert lengths == sorted(lengths) and lengths[-1] > lengths[0]
    digits = [score(base + " 1" * k) for k in (0, 3, 10, 30)]
    assert digits == sorted(digits) and digits[-1] > digits[0]
    steps = [score("\n".join([base] + [f"Then x = {i} + 1." for i in range(k)])) for k in (0, 2, 6, 12)]
    assert steps == sorted(steps) and steps[-1] > steps[0]
    weighted = DifficultyConfig(score_weights={"quality_score": 1.0})
    q = [difficulty_score(base, {"quality_score": v}, weighted) for v in (0.0, 0.5, 1.0)]
    assert q == sorted(q) and q[-1] > q[0]

    texts = [
        base,
        "Solve: 3x + 5 = 20.\nStep 1: 3x = 15.\nStep 2: x = 5.\nTherefore x = 5.",
        " ".join([base] * 300),
    ]
    docs = [Document(text=t, id=str(i), metadata={}) for i, t in enumerate(texts)]
    out = list(DifficultyTierer(num_tiers=4).run(iter(docs)))
    tiers = [d.metadata["difficulty_tier"] for d in out]
    assert all(isinstance(t, int) and 0 <= t < 4 for t in tiers)
    assert tiers[0] < tiers[1] and tiers[0] < tiers[2]
    scores = [d.metadata["difficulty_score"] for d in out]
    assert sorted(range(3), key=scores.__getitem__) == sorted(range(3), key=tiers.__getitem__)
    with pytest.raises(ValueError, match="strictly increasing"):
        DifficultyConfig(num_tiers=3, edges=[0.6, 0.4])


def test_steps_run_in_a_datatrove_executor(quality_model, domain_model, tmp_path):
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    raw = tmp_path / "raw"
    raw.mkdir()
    with gzip.open(raw / "web.jsonl.gz", "wt") as handle:
        for i, text in enumerate(docs_of(VOCAB["general"], 8, 1) + docs_of(JUNK, 4, 2)):
            handle.write(json.dumps({"text": text, "id": f"w{i}"}) + "\n")

    def add_source(data, rank=0, world_size=1):  # the core pipeline sets this from the source config
        for doc in data:
            doc.metadata["source"] = "web"
            yield doc

    LocalPipelineExecutor(
        pipeline=[
            JsonlReader(str(raw)),
            add_source,
            QualityScorer(quality_model, top_percentile=50),
            DomainTagger(domain_model),
            DifficultyTierer(num_tiers=3),
            JsonlWriter(str(tmp_path / "out")),
        ],
        tasks=1,
        workers=1,
        logging_dir=str(tmp_path / "logs"),
    ).run()
    rows = []
    for shard in (tmp_path / "out").glob("*.jsonl.gz"):
        with gzip.open(shard, "rt") as handle:
            rows.extend(json.loads(line) for line in handle)
    assert len(rows) == 6
    assert all(r["id"].startswith("w") and int(r["id"][1:]) < 8 for r in rows)  # junk dropped
    for r in rows:
        meta = r["metadata"]
        assert 0 <= meta["quality_score"] <= 1 and meta["domain"] == "general"
        assert isinstance(meta["difficulty_tier"], int)


# --- scoped quality cuts (classifiers.per_domain / per_source / exempt_domains) -------------------


def _cuts(**classifiers):
    from curation.classifiers.cuts import QualityCuts
    from curation.config import ClassifiersConfig

    return QualityCuts.from_config(ClassifiersConfig(quality_model="q.bin", **classifiers))


def test_cut_resolution_source_over_domain_over_global_and_code_exempt():
    cuts = _cuts(
        min_quality=0.5,
        top_percentile=80,
        per_domain={"math": {"min_quality": 0.2}, "code": {"top_percentile": 30}},
        per_source={"wiki": {"min_quality": None}},
    )
    assert cuts.resolve("web", "general") == {"min_quality": 0.5, "top_percentile": 80}
    assert cuts.resolve("gsm", "math") == {"min_quality": 0.2, "top_percentile": 80}  # key left out inherits
    assert cuts.resolve("flask", "code") == {"min_quality": None, "top_percentile": 30}  # global skips code
    assert cuts.resolve("wiki", "general") == {"min_quality": None, "top_percentile": 80}  # null switches off
    assert _cuts(min_quality=0.5).resolve("flask", "code") == {"min_quality": None, "top_percentile": None}
    assert _cuts(min_quality=0.5, exempt_domains=[]).min_quality_of("flask", "code") == 0.5


def test_cut_config_errors_name_the_key():
    from pydantic import ValidationError

    from curation.config import CurationConfig

    def check(classifiers: dict, match: str) -> None:
        data = {"sources": [{"name": "flask", "path": "x", "domain": "code"}], "classifiers": classifiers}
        with pytest.raises(ValidationError, match=match):
            CurationConfig.model_validate(data)

    check(
        {"quality_model": "q", "per_source": {"flsk": {"min_quality": 0.1}}},
        r"classifiers\.per_source\.flsk: unknown source",
    )
    check(
        {"quality_model": "q", "per_domain": {"maths": {"min_quality": 0.1}}},
        r"classifiers\.per_domain\.maths: unknown domain",
    )
    check({"min_quality": 0.5}, r"classifiers\.min_quality: a quality cut needs classifiers\.quality_model")
    check({"quality_model": "q", "top_percentile": 0}, "top_percentile")
    check({"quality_model": "q", "per_domain": {"code": {"min_qualty": 0.1}}}, "min_qualty")
    ok = {"quality_model": "q", "per_domain": {"code": {"top_percentile": 30}}, "top_percentile": 50}
    CurationConfig.model_validate(
        {"sources": [{"name": "flask", "path": "x", "domain": "code"}], "classifiers": ok}
    )


def test_unknown_domain_against_the_domain_model_labels(quality_model, domain_model):
    from curation.classifiers.steps import build_tag_steps
    from curation.config import CurationConfig

    cfg = CurationConfig.model_validate(
        {
            "sources": [{"name": "s", "path": "x"}],
            "classifiers": {
                "quality_model": quality_model,
                "domain_model": domain_model,
                "per_domain": {"science": {"min_quality": 0.1}},  # not a label of this model
            },
        }
    )
    with pytest.raises(ValueError, match=r"classifiers\.per_domain\.science: unknown domain"):
        build_tag_steps(cfg)


def test_global_cut_skipping_code_warns(quality_model):
    from curation.classifiers.steps import build_tag_steps
    from curation.config import CurationConfig

    sources = [{"name": "web", "path": "x"}, {"name": "flask", "path": "y", "domain": "code"}]
    cfg = CurationConfig.model_validate(
        {"sources": sources, "classifiers": {"quality_model": quality_model, "min_quality": 0.5}}
    )
    with pytest.warns(
        UserWarning,
        match=r"min_quality=0.5 is not applied to domain 'code' \(source\(s\) \['flask'\]\).*per_domain\.code",
    ):
        build_tag_steps(cfg)
    import warnings

    from curation.config import QualityCutConfig

    cfg.classifiers.per_domain["code"] = QualityCutConfig(min_quality=0.05)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the user chose code's cut: no warning
        build_tag_steps(cfg)


def _write_jsonl(path, texts, prefix):
    path.write_text(
        "".join(json.dumps({"id": f"{prefix}{i}", "text": t}) + "\n" for i, t in enumerate(texts))
    )


def _kept(out):
    kept = {}
    for part in ("curated", "heldout"):
        for shard in (out / part).rglob("*.jsonl.gz"):
            with gzip.open(shard, "rt") as handle:
                for row in map(json.loads, handle):
                    kept[row["id"]] = row["metadata"]
    return kept


def test_scoped_cuts_from_yaml_through_run_curation(quality_model, tmp_path):
    """min_quality skips code by default; top_percentile per domain is exact across 2 tasks."""
    import yaml

    from curation import CurationConfig, run_curation

    good, junk = docs_of(VOCAB["general"], 12, 30), docs_of(JUNK, 8, 31)
    _write_jsonl(tmp_path / "web.jsonl", good + junk, "w")
    _write_jsonl(tmp_path / "code.jsonl", docs_of(JUNK, 6, 32), "c")  # prose model scores "code" low
    config = {
        "sources": [
            {"name": "web", "path": "web.jsonl", "domain": "general"},
            {"name": "code", "path": "code.jsonl", "domain": "code"},
        ],
        "filters": {"enabled": []},
        "dedup": {"minhash": False},
        "heldout": {"fraction": 0.0},
        "executor": {"tasks": 2, "workers": 1},
        "classifiers": {
            "quality_model": quality_model,
            "min_quality": 0.5,
            "per_domain": {"general": {"top_percentile": 50}},
        },
    }
    (tmp_path / "curation.yaml").write_text(yaml.safe_dump(config))
    with pytest.warns(UserWarning, match="not applied to domain 'code'"):
        result = run_curation(CurationConfig.from_yaml(tmp_path / "curation.yaml"), tmp_path / "out")
    kept = _kept(tmp_path / "out")
    web = sorted(k for k in kept if k.startswith("w"))
    # min_quality drops the 8 junk web docs; top 50 % of the 12 left = 6, the best-scored ones
    assert len(web) == 6 and all(int(k[1:]) < 12 for k in web)
    web_scores = sorted(kept[k]["quality_score"] for k in web)
    assert len([k for k in kept if k.startswith("c")]) == 6  # code exempt from the global min_quality
    inv = result.inventory.filter(result.inventory["source"] == "web")
    assert inv["num_docs"].item() == 6
    # the 6 cut by the percentile were the 6 worst good docs
    dropped = _removed_scores(tmp_path / "out")
    assert max(dropped) <= min(web_scores)

    config["classifiers"]["per_source"] = {"code": {"min_quality": 0.5}}  # opt code in, by source
    (tmp_path / "curation.yaml").write_text(yaml.safe_dump(config))
    run_curation(CurationConfig.from_yaml(tmp_path / "curation.yaml"), tmp_path / "out2")
    assert not [k for k in _kept(tmp_path / "out2") if k.startswith("c")]


def _removed_scores(out):
    scores = []
    for shard in (out / "removed").rglob("*.jsonl.gz"):
        with gzip.open(shard, "rt") as handle:
            for row in map(json.loads, handle):
                if row["id"].startswith("w") and int(row["id"][1:]) < 12:
                    scores.append(row["metadata"]["quality_score"])
    return scores


def test_low_confidence_falls_back_to_the_source_hint(domain_model):
    docs = [
        Document(text=docs_of(VOCAB["code"], 1, 5)[0], id="hinted", metadata={"domain": "math"}),
        Document(text=docs_of(VOCAB["code"], 1, 6)[0], id="unhinted", metadata={}),
    ]
    out = {d.id: d.metadata for d in DomainTagger(domain_model, min_confidence=1.0).run(iter(docs))}
    assert out["hinted"]["domain"] == "math"  # the hint, as documented, not "general"
    assert out["unhinted"]["domain"] == "general"
    confident = {d.id: d.metadata for d in DomainTagger(domain_model, min_confidence=0.0).run(iter(docs))}
    assert confident["hinted"]["domain"] == "code"  # a confident model still wins over the hint


def test_prose_quality_model_with_global_min_quality_keeps_real_code(tmp_path):
    """On the real Flask files a prose-trained model scores code near 0: the code exemption keeps them."""
    from pathlib import Path

    from curation import run_curation

    data = Path(__file__).resolve().parents[3] / "shared" / "data"
    if not (data / "flask_code.jsonl.gz").is_file():
        pytest.skip(f"real data folder {data} absent (CI has it at ../shared/data)")
    wiki = [
        line.strip()
        for line in (data / "wikitext2_valid.txt").read_text().splitlines()
        if len(line.split()) >= 40 and not line.strip().startswith("=")
    ][:300]
    web = []
    for row in map(json.loads, (data / "web_cc_sample.jsonl").read_text().splitlines()):
        lines = [x for x in row["text"].splitlines() if x.strip()]
        web += ["\n".join(lines[i : i + 3]) for i in range(0, len(lines), 3)]
    model = train_fasttext_classifier(
        {"positive": wiki, "negative": web[:300]}, tmp_path / "q", name="q", config=FAST
    ).model_path
    config = {
        "sources": [{"name": "flask", "path": str(data / "flask_code.jsonl.gz"), "domain": "code"}],
        "filters": {"enabled": []},
        "heldout": {"fraction": 0.0},
        "executor": {"tasks": 1, "workers": 1},
        "classifiers": {"quality_model": model, "min_quality": 0.5},  # README's line
    }
    with pytest.warns(UserWarning, match="not applied to domain 'code'"):
        run_curation(config, tmp_path / "out")
    kept = _kept(tmp_path / "out")
    assert len(kept) >= 75  # of 77 files (MinHash may group a near-identical pair)
    assert sum(m["quality_score"] < 0.5 for m in kept.values()) >= 0.9 * len(kept)  # why the exemption
    config["classifiers"]["per_domain"] = {"code": {"min_quality": 0.5}}  # opting code in drops it
    run_curation(config, tmp_path / "opted_in")
    assert len(_kept(tmp_path / "opted_in")) <= 0.1 * len(kept)
