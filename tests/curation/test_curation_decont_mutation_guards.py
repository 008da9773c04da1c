"""Decontamination guards that mutation testing (scripts/mutation.sh decont) showed missing.

Every n-gram of an eval item is found (also the one whose hash sorts last in the index), Unicode
text goes through the same n-gram boundary as ASCII text, and the two hashing paths agree.
"""

import json

import numpy as np
import pytest
from datatrove.data import Document

from curation.config import DecontConfig, EvalSetConfig
from curation.decont import DecontIndexer, NGramDecontFilter
from curation.decont.ngrams import ngram_hashes, words

ITEM = [f"item{c}{d}" for c in "abcdef" for d in "pqr"]  # 18 distinct words
FILLER = [f"zz{c}{d}" for c in "abcdefgh" for d in "klmno"]


def _filter(tmp_path, item_text: str, n: int, mode: str = "drop") -> NGramDecontFilter:
    ev = tmp_path / "eval.jsonl"
    ev.write_text(json.dumps({"text": item_text, "id": "q1"}) + "\n")
    cfg = DecontConfig(eval_sets=[EvalSetConfig(name="ev", path=str(ev))], n=n)
    list(DecontIndexer(cfg, str(tmp_path / "idx")).run(rank=0, world_size=1))
    return NGramDecontFilter(str(tmp_path / "idx"), str(tmp_path / "hits"), n=n, mode=mode)


def test_every_ngram_of_an_item_is_found_wherever_its_hash_sorts(tmp_path):
    n = 8
    step = _filter(tmp_path, " ".join(ITEM), n)
    windows = [ITEM[k : k + n] for k in range(len(ITEM) - n + 1)]
    hashes = [int(ngram_hashes(" ".join(w), n)[0]) for w in windows]
    assert max(hashes) == int(np.load(tmp_path / "idx" / "index.npz")["hashes"].max())
    for k, window in enumerate(windows):
        text = " ".join(FILLER[:10] + window + FILLER[10:20])  # shares exactly one n-gram
        assert step.matches(text) == {0: 1}, (k, hashes[k] == max(hashes))
    assert step.matches(" ".join(FILLER[:30])) == {}


def test_unicode_documents_follow_the_same_ngram_boundary(tmp_path):
    n = 8
    item = [f"é{w}" for w in ITEM]  # non-ASCII words: the regex path, not the compiled ASCII pass
    step = _filter(tmp_path, " ".join(item), n)

    def doc(k, doc_id):
        return Document(
            text=" ".join(FILLER[:5] + item[3 : 3 + k] + FILLER[5:9]), id=doc_id, metadata={"source": "u"}
        )

    kept = [d.id for d in step.run(iter([doc(n - 1, "n-1"), doc(n, "n"), doc(n + 1, "n+1")]))]
    assert kept == ["n-1"]
    # a document of exactly n words that is the n-gram, and one of n - 1 words
    assert step.matches(" ".join(item[:n])) == {0: 1}
    assert step.matches(" ".join(item[: n - 1])) == {}


@pytest.mark.parametrize(
    "text",
    ["The answer is x=2, so 3*x = 6 and y_1 equals 7; done.", "one two three four five six seven eight"],
)
def test_ascii_pass_equals_the_word_list_path(text):
    for n in (1, 3, 8):
        fast = ngram_hashes(text, n)  # compiled ASCII pass
        slow = ngram_hashes(words(text), n)  # words -> roll
        assert fast.dtype == np.uint64 and np.array_equal(fast, slow), n
        assert len(fast) == max(len(words(text)) - n + 1, 0)
    assert len(ngram_hashes(words(text)[:7], 8)) == 0 and len(ngram_hashes(words(text)[:8], 8)) == 1


@pytest.mark.parametrize("mode", ["drop", "flag"])
def test_stats_count_contaminated_dropped_and_flagged_documents(tmp_path, mode):
    """datatrove's stats (and removed/'s filter_reason) name what happened to each document."""
    n = 8
    step = _filter(tmp_path, " ".join(ITEM), n, mode=mode)
    leak = Document(text=" ".join(FILLER[:5] + ITEM[:n]), id="leak", metadata={"source": "web"})
    clean = Document(text=" ".join(FILLER[:20]), id="clean", metadata={"source": "web"})
    kept = [d.id for d in step.run(iter([leak, clean]))]
    counts = {k: v.total for k, v in step.stats.stats.items()}
    assert counts["contaminated/web"] == 1
    if mode == "drop":
        assert kept == ["clean"]
        assert counts["dropped_contaminated"] == 1 and counts["dropped/web"] == 1
        assert "flagged" not in counts
    else:
        assert kept == ["leak", "clean"]
        assert counts["flagged"] == 1
        assert not any(k.startswith("dropped") for k in counts)


def test_dropped_documents_land_in_removed_with_reason_under_their_rank(tmp_path):
    """With the pipeline's exclusion writer a dropped document is kept in removed/<source>/decontamination/
    as <rank>.jsonl.gz with filter_reason 'contaminated', so the per-source funnel can show it."""
    import gzip

    from curation.pipeline import with_removed

    n = 8
    step = with_removed(_filter(tmp_path, " ".join(ITEM), n), tmp_path, "decontamination")
    leak = Document(text=" ".join(FILLER[:5] + ITEM[:n]), id="leak", metadata={"source": "web"})
    clean = Document(text=" ".join(FILLER[:20]), id="clean", metadata={"source": "web"})
    assert [d.id for d in step.run(iter([leak, clean]), rank=3, world_size=4)] == ["clean"]
    step.exclusion_writer.close()
    files = sorted((tmp_path / "removed").rglob("*.jsonl.gz"))
    assert [f.relative_to(tmp_path / "removed").as_posix() for f in files] == [
        "web/decontamination/00003.jsonl.gz"
    ]
    with gzip.open(files[0], "rt") as fh:
        rows = [json.loads(line) for line in fh]
    assert [(r["id"], r["metadata"]["filter_reason"]) for r in rows] == [("leak", "contaminated")]
    assert (tmp_path / "hits" / "00003.jsonl").is_file()
