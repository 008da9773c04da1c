"""Instruction sources (`instruction: messages | prompt_response`) through curation and tokenization.

One curation run on a chat source (jsonl), a prompt/response source with its own keys (parquet)
and a web source: the curated records keep the conversation byte for byte in
``metadata.instruction``; filters, dedup and decontamination judge the turns' text (an eval
question inside a prompt, or inside a response, is dropped); bad records are counted rejects
with file, line and key; the funnel and inventory count the sources like any other; and
tokenization finds the conversations in the curated output and writes a loss mask.
"""

import gzip
import json
import random

import orjson
import polars as pl
import pytest
from pydantic import ValidationError

from curation import CurationConfig, run_curation
from curation.pipeline import preflight

WORDS = [
    "river",
    "city",
    "market",
    "school",
    "garden",
    "people",
    "morning",
    "winter",
    "library",
    "bridge",
    "music",
    "story",
    "village",
    "teacher",
    "window",
    "history",
    "doctor",
    "friend",
    "summer",
    "mountain",
    "road",
    "family",
    "museum",
    "lake",
    "forest",
    "island",
]
LEAK_Q = "Janet has three apples and buys five more apples at the market on Sunday how many apples now"
LEAK_A = "A baker sells twelve loaves every hour for six hours on a busy Saturday morning in town"


def _sentence(rng: random.Random, n: int = 12) -> str:
    return " ".join(rng.choice(WORDS) if i % 3 else rng.choice(("the", "and", "of", "to")) for i in range(n))


def _chat(rng: random.Random, i: int) -> dict:
    turns = [
        {"role": "user", "content": f"Tell me about the {_sentence(rng)}?"},
        {"role": "assistant", "content": f"The {_sentence(rng)}. Also {_sentence(rng)}.", "name": "bot"},
    ]
    if i % 3 == 0:  # a system turn, unicode and odd whitespace: all must survive as they are
        turns.insert(0, {"role": "system", "content": f"  Sé breve – {i} 😀\t\n"})
    return {"id": f"chat-{i}", "messages": turns}


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    root = tmp_path_factory.mktemp("instruct_curation")
    rng = random.Random(0)
    chats = [_chat(rng, i) for i in range(30)]
    chats.append(dict(chats[4], id="chat-copy"))  # exact duplicate conversation
    leak = _chat(rng, 99)
    leak["id"], leak["messages"][-1]["content"] = "chat-leak", f"So: {LEAK_A}."  # eval item in a response
    chats.append(leak)
    lines = [json.dumps(r, ensure_ascii=False) for r in chats]
    lines.append(json.dumps({"messages": [{"role": "robot", "content": "beep"}]}))  # line 33
    lines.append(json.dumps({"messages": [{"role": "user", "content": "anyone there?"}]}))  # line 34
    (root / "raw").mkdir()
    (root / "raw" / "chat.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    qa = [
        {"qid": f"qa-{i}", "question": _sentence(rng, 15) + "?", "answer": _sentence(rng, 20)}
        for i in range(30)
    ]
    qa.append({"qid": "qa-leak", "question": f"Quick one. {LEAK_Q}?", "answer": "eight apples in all"})
    pl.DataFrame(qa).write_parquet(root / "raw" / "qa.parquet")
    web = [{"id": f"web-{i}", "text": "\n".join(_sentence(rng) + "." for _ in range(8))} for i in range(30)]
    (root / "raw" / "web.jsonl").write_text("".join(json.dumps(r) + "\n" for r in web))
    evals = [{"question": LEAK_Q, "answer": "8"}, {"question": LEAK_A, "answer": "72"}]
    (root / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in evals))
    config = CurationConfig.model_validate(
        {
            "sources": [
                {"name": "chat", "path": str(root / "raw" / "chat.jsonl"), "instruction": "messages"},
                {
                    "name": "qa",
                    "path": str(root / "raw" / "qa.parquet"),
                    "id_key": "qid",
                    "domain": "math",
                    "instruction": {
                        "format": "prompt_response",
                        "prompt_key": "question",
                        "response_key": "answer",
                    },
                },
                {"name": "web", "path": str(root / "raw" / "web.jsonl"), "kind": "web", "filters": []},
            ],
            "dedup": {"minhash": False},
            "decontamination": {
                "eval_sets": [{"name": "gsm8k", "path": str(root / "eval.jsonl"), "format": "gsm8k"}],
                "n": 8,
            },
            "heldout": {"fraction": 0.1, "max_docs": 2},
            "executor": {"tasks": 1, "workers": 1},
        }
    )
    result = run_curation(config, root / "out")
    return root, result, {r["id"]: r for r in chats}, {r["qid"]: r for r in qa}


def _records(folder):
    out = {}
    for path in sorted(folder.rglob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            out.update((r["id"], r) for r in map(json.loads, f))
    return out


def test_curated_records_keep_the_conversation_byte_for_byte(curated):
    root, _, chats, qa = curated
    kept = _records(root / "out" / "curated") | _records(root / "out" / "heldout")
    chat_ids = {i for i, r in kept.items() if r["metadata"]["source"] == "chat"}
    assert chat_ids == set(chats) - {"chat-copy", "chat-leak"}  # one copy kept, the leak dropped
    for doc_id in chat_ids:
        stored = kept[doc_id]["metadata"]["instruction"]
        assert orjson.dumps(stored) == orjson.dumps({"messages": chats[doc_id]["messages"]})  # extra keys too
        assert kept[doc_id]["text"] == "\n\n".join(t["content"] for t in chats[doc_id]["messages"])
    qa_ids = {i for i, r in kept.items() if r["metadata"]["source"] == "qa"}
    assert qa_ids == set(qa) - {"qa-leak"}
    for doc_id in qa_ids:
        row = qa[doc_id]
        assert kept[doc_id]["metadata"]["instruction"] == {
            "prompt": row["question"],
            "response": row["answer"],
        }
        assert kept[doc_id]["metadata"]["domain"] == "math"
    assert all("instruction" not in r["metadata"] for r in kept.values() if r["metadata"]["source"] == "web")


def test_decontamination_sees_prompts_and_responses(curated):
    root, *_ = curated
    hits = [json.loads(line) for line in (root / "out" / "reports" / "decontamination.jsonl").open()]
    assert {(h["source"], h["doc_id"]) for h in hits} >= {("chat", "chat-leak"), ("qa", "qa-leak")}


def test_bad_records_are_counted_rejects_naming_line_and_key(curated):
    root, result, *_ = curated
    rejects = [json.loads(line) for p in (root / "out" / "rejects").rglob("*.jsonl") for line in p.open()]
    by_line = {(r["source"], r["line"]): r for r in rejects}
    assert by_line[("chat", 33)]["reason"] == "unknown_role"
    assert "messages[0].role 'robot'" in by_line[("chat", 33)]["excerpt"]
    assert by_line[("chat", 34)]["reason"] == "no_response"
    funnel = result.funnel["by_source"]
    assert funnel["chat"]["input"] == 34 and funnel["chat"]["rejected"] == 2
    assert funnel["qa"]["input"] == 31 and funnel["qa"]["rejected"] == 0


def test_inventory_and_funnel_count_instruction_sources_like_any(curated):
    root, result, *_ = curated
    inventory = result.inventory.sort("source")
    assert inventory["source"].to_list() == ["chat", "qa", "web"]
    curated_docs = _records(root / "out" / "curated")
    for row in inventory.iter_rows(named=True):
        assert row["num_docs"] == sum(r["metadata"]["source"] == row["source"] for r in curated_docs.values())
        assert row["num_docs"] == result.funnel["by_source"][row["source"]]["curated"]


def test_tokenization_reads_the_conversations_from_curated_output(curated):
    import numpy as np
    from tokenizers import Tokenizer

    from training.tokenize import TokenizeConfig
    from training.tokenize.run import tokenize_curated

    root, result, chats, qa = curated
    tokens, only = root / "tokens", root / "instruction_only"  # text sources: tests/training
    only.mkdir()
    for source in ("chat", "qa"):
        (only / source).symlink_to(root / "out" / "curated" / source)
    counts = tokenize_curated(only, tokens, TokenizeConfig(vocab_size=400, min_frequency=1))
    tok = Tokenizer.from_file(str(tokens / "tokenizer.json"))
    for source in ("chat", "qa"):
        ids = np.fromfile(tokens / source / "000.ds", dtype="<u2")
        mask = np.fromfile(tokens / source / "000.ds.mask", dtype=np.uint8)
        ends = np.fromfile(tokens / source / "000.ds.index", dtype="<u8").astype(np.int64)
        assert len(ends) == counts.filter(pl.col("source") == source)["num_docs"][0]
        records = [
            r for r in _records(root / "out" / "curated").values() if r["metadata"]["source"] == source
        ]
        assert len(records) == len(ends)
        responses = sorted(
            r["metadata"]["instruction"].get("response")
            or next(
                t["content"] for t in r["metadata"]["instruction"]["messages"] if t["role"] == "assistant"
            )
            for r in records
        )
        starts = np.concatenate([[0], ends[:-1]])
        decoded = sorted(
            tok.decode(ids[a : b - 1][mask[a : b - 1] == 1].tolist()).strip()
            for a, b in zip(starts, ends, strict=True)
        )
        assert decoded == [r.strip() for r in responses]
        assert all(mask[b - 1] == 1 for b in ends)  # the closing EOS is trained
        tiers = np.fromfile(tokens / source / "000.ds.difficulty", dtype="<f4")  # curriculum keys too
        assert len(tiers) == len(ends) and not np.isnan(tiers).any()


def _write(tmp_path, records, name="chat.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def test_preflight_names_file_line_and_key_before_work_starts(tmp_path):
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    bad_role = {"messages": [{"role": "user", "content": "hi"}, {"role": "bot", "content": "hello"}]}
    cases = [
        (
            [{"conversation": good["messages"]}, good],
            "messages",
            r"chat\.jsonl:1: no key 'messages' .*messages_key",
        ),
        ([bad_role, good], "messages", r"chat\.jsonl:1: messages\[1\]\.role 'bot' is not one of"),
        ([{"prompt": "hi", "response": " "}], "prompt_response", r"chat\.jsonl:1: 'response' is empty"),
        ([{"q": "hi", "response": "x"}], "prompt_response", r"no key 'prompt' .*prompt_key: <key>"),
    ]
    for records, fmt, message in cases:
        config = CurationConfig.model_validate(
            {"sources": [{"name": "chat", "path": _write(tmp_path, records), "instruction": fmt}]}
        )
        with pytest.raises(ValueError, match=message):
            preflight(config)
    text_file = tmp_path / "notes.txt"
    text_file.write_text("plain text\n")
    config = CurationConfig.model_validate(
        {"sources": [{"name": "notes", "path": str(text_file), "instruction": "messages"}]}
    )
    with pytest.raises(ValueError, match="notes.txt is a plain-text file; remove instruction"):
        preflight(config)


def test_instruction_config_is_checked(tmp_path):
    source = {"name": "chat", "path": "x.jsonl"}
    spec = CurationConfig.model_validate({"sources": [source | {"instruction": "prompt_response"}]})
    assert spec.sources[0].instruction.record_keys() == ["prompt", "response"]
    for extra, message in [
        ({"instruction": "chat"}, "format"),
        ({"instruction": "messages", "text_template": "{a}"}, "instruction and text_template are mutually"),
        ({"instruction": "messages", "text_key": "body"}, "instruction and text_key are mutually"),
        ({"instruction": {"format": "messages", "prompt_kye": "q"}}, "prompt_kye"),
    ]:
        with pytest.raises(ValidationError, match=message):
            CurationConfig.model_validate({"sources": [source | extra]})


def _doc_block(path, needle: str) -> str:
    import re

    blocks = re.findall(r"^ *```yaml\n(.*?)^ *```", path.read_text(), re.M | re.S)
    return next(b for b in blocks if needle in b)


def test_the_docs_instruction_snippets_run(tmp_path, monkeypatch):
    import textwrap
    from pathlib import Path

    import yaml

    from curation.readers.sources import SourcesReader

    docs = Path(__file__).resolve().parents[2]
    block = yaml.safe_load(
        textwrap.dedent(_doc_block(docs / "docs" / "curation.md", "instruction: messages"))
    )
    monkeypatch.chdir(tmp_path)
    (tmp_path / "raw").mkdir()
    chat = {"messages": [{"role": "user", "content": "2 + 2?"}, {"role": "assistant", "content": "4"}]}
    gsm = {"question": "Tom has 3 pens and buys 2. How many?", "answer": "3 + 2 = 5\n#### 5"}
    (tmp_path / "raw" / "chat.jsonl").write_text(json.dumps(chat) + "\n")
    (tmp_path / "raw" / "gsm8k.jsonl").write_text(json.dumps(gsm) + "\n")
    config = CurationConfig.model_validate(block)
    preflight(config)
    docs_read = list(SourcesReader(config.sources, str(tmp_path / "rejects")).run())
    assert [d.metadata["instruction"] for d in docs_read] == [
        {"messages": chat["messages"]},
        {"prompt": gsm["question"], "response": gsm["answer"]},
    ]
    readme = yaml.safe_load(_doc_block(docs / "README.md", "instruction: messages"))
    assert CurationConfig.model_validate(readme).sources[-1].instruction.format == "messages"


def test_chat_records_in_parquet_are_read_whole(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curation.config import SourceConfig
    from curation.readers.sources import SourcesReader

    rows = [
        {"conversations": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a {i}"}]}
        for i in range(3)
    ]
    rows.append({"conversations": [{"role": "user", "content": "no answer"}]})
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "chat.parquet")
    source = SourceConfig(
        name="chat",
        path=str(tmp_path / "chat.parquet"),
        instruction={"format": "messages", "messages_key": "conversations"},
    )
    reader = SourcesReader([source], str(tmp_path / "rejects"))
    docs = list(reader.run())
    assert [d.metadata["instruction"] for d in docs] == [{"messages": r["conversations"]} for r in rows[:3]]
    assert [d.text for d in docs] == [f"q{i}\n\na {i}" for i in range(3)]
    assert reader.stats["rejected/chat/no_response"].n == 1
