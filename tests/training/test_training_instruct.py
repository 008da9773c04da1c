"""Instruction data: prompt/response and chat records are rendered (chat template or the fallback
format), tokenized with a loss mask, and `data.loss_mask: response` trains on response tokens only:
masked tokens contribute exactly zero gradient."""

import gzip
import json
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
import torch

from training.tokenize import TokenizeConfig
from training.tokenize.instruct import encode, messages_of, render
from training.tokenize.run import tokenize_curated
from training.trainer.testing import write_test_plan

CHATS = [
    {
        "messages": [
            {"role": "user", "content": f"what is {i} plus {i}"},
            {"role": "assistant", "content": f"it is {2 * i}"},
        ]
    }
    for i in range(30)
] + [{"prompt": f"name colour {i}", "response": f"colour {i} is blue"} for i in range(30)]
WEB = [{"text": f"the web page number {i} talks about cats and dogs and birds"} for i in range(60)]


def _write(folder, records):
    folder.mkdir(parents=True)
    with gzip.open(folder / "000.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    root = tmp_path_factory.mktemp("instruct")
    _write(root / "curated" / "web", WEB)
    _write(root / "curated" / "chat", CHATS)
    tokenize_curated(root, root / "tokens", TokenizeConfig(vocab_size=300, min_frequency=1))
    plan = write_test_plan(
        root / "plan.parquet", {"web": "general", "chat": "instruction"}, [{"web": 8, "chat": 8}], [32]
    )
    return root / "tokens", plan


def test_tokenize_writes_a_mask_that_covers_exactly_the_responses_and_eos(tokens):
    from tokenizers import Tokenizer

    tokens_dir, _ = tokens
    ids = np.fromfile(tokens_dir / "chat" / "000.ds", dtype="<u2")
    mask = np.fromfile(tokens_dir / "chat" / "000.ds.mask", dtype=np.uint8)
    ends = np.fromfile(tokens_dir / "chat" / "000.ds.index", dtype="<u8").astype(np.int64)
    assert len(ids) == len(mask) == ends[-1] and len(ends) == 60
    assert not (tokens_dir / "web" / "000.ds.mask").exists()
    tok = Tokenizer.from_file(str(tokens_dir / "tokenizer.json"))
    eos = json.loads((tokens_dir / "tokenize.json").read_text())["eos_token_id"]
    for d, (a, b) in enumerate(zip(np.concatenate([[0], ends[:-1]]), ends, strict=True)):
        doc, m = ids[a:b], mask[a:b]
        assert doc[-1] == eos and m[-1] == 1
        response = CHATS[d]["messages"][1]["content"] if d < 30 else CHATS[d]["response"]
        prompt = CHATS[d]["messages"][0]["content"] if d < 30 else CHATS[d]["prompt"]
        assert tok.decode(doc[:-1][m[:-1] == 1].tolist()).strip() == response
        assert prompt in tok.decode(doc[m == 0].tolist())  # the prompt is input only


def test_a_zstd_instruction_source_gives_the_same_tokens_and_mask_as_gzip(tokens, tmp_path):
    import zstandard

    tokens_dir, _ = tokens
    folder = tmp_path / "curated" / "chat"
    folder.mkdir(parents=True)
    with zstandard.open(folder / "000.jsonl.zst", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in CHATS)
    tokenize_curated(
        tmp_path, tmp_path / "tokens", TokenizeConfig(tokenizer=str(tokens_dir / "tokenizer.json"))
    )
    for suffix in (".ds", ".ds.mask", ".ds.index"):
        got = (tmp_path / "tokens" / "chat" / f"000{suffix}").read_bytes()
        assert got == (tokens_dir / "chat" / f"000{suffix}").read_bytes(), suffix


def test_chat_template_is_used_when_the_tokenizer_has_one():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = [
        "<s>",
        "</s>",
        "[INST]",
        "[/INST]",
        "hi",
        "there",
        "how",
        "are",
        "you",
        "fine",
        "thanks",
        "sys",
        "be",
        "brief",
    ]
    base = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<s>"))
    base.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    hf = PreTrainedTokenizerFast(tokenizer_object=base)
    hf.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'assistant' %} {{ m['content'] }} </s>"
        "{% else %} [INST] {{ m['content'] }} [/INST]{% endif %}{% endfor %}"
    )
    msgs = [
        {"role": "user", "content": "hi there"},
        {"role": "assistant", "content": "how are you"},
        {"role": "user", "content": "fine thanks"},
        {"role": "assistant", "content": "be brief"},
    ]
    text, spans = render(msgs, hf)
    assert text.strip().startswith("[INST] hi there [/INST]")
    ids, mask = encode(text, spans, base, eos_id=1, bos_id=0)
    trained = [words[i] for i, m in zip(ids, mask, strict=True) if m]
    assert trained == ["how", "are", "you", "</s>", "be", "brief", "</s>", "</s>"]  # template's + final EOS
    assert ids[0] == 0 and mask[0] == 0


def test_bad_records_are_one_error_naming_source_record_and_key():
    with pytest.raises(ValueError, match=r"chat: line 3: messages\[1\].role 'robot' is not one of"):
        messages_of(
            {"messages": [{"role": "user", "content": "a"}, {"role": "robot", "content": "b"}]},
            where="chat: line 3",
        )
    with pytest.raises(ValueError, match="no non-empty assistant turn"):
        messages_of({"prompt": "a", "response": "  "}, where="chat: line 4")


def test_masked_tokens_contribute_exactly_zero_gradient(tokens, monkeypatch):
    from training.config import ModelConfig
    from training.data import PlanLoader
    from training.models import build_model, tiny_llama_config
    from training.trainer import loop

    tokens_dir, plan_path = tokens
    plan = pl.read_parquet(plan_path)
    plain = next(iter(PlanLoader(tokens_dir, plan, micro_batch_size=16)))
    masked = next(iter(PlanLoader(tokens_dir, plan, micro_batch_size=16, loss_mask={"chat": "response"})))
    assert torch.equal(plain.input_ids, masked.input_ids)
    chat_rows = [i for i, s in enumerate(masked.sources) if s == "chat"]
    web_rows = [i for i, s in enumerate(masked.sources) if s == "web"]
    assert torch.equal(plain.labels[web_rows], masked.labels[web_rows])  # other sources untouched
    assert (masked.labels[chat_rows] == -100).sum() > 2 * (plain.labels[chat_rows] == -100).sum()

    model = build_model(ModelConfig(), tiny_llama_config(300, hidden_size=32, intermediate_size=64), seed=0)
    captured = {}

    def capture(*args):
        logits = packed_logits(*args)
        logits.retain_grad()
        captured["logits"] = logits
        return logits

    packed_logits = loop.packed_logits
    monkeypatch.setattr(loop, "packed_logits", capture)
    fake = SimpleNamespace(model=model, dist=SimpleNamespace(device=torch.device("cpu")))
    token_loss, target_mask = loop.Trainer.token_losses(fake, masked)
    token_loss.sum().backward()
    grad = captured["logits"].grad  # position t predicts labels[t + 1]
    ignored = masked.labels[:, 1:] == -100
    assert torch.count_nonzero(grad[:, :-1][ignored]) == 0 and torch.count_nonzero(grad[:, -1]) == 0
    assert (grad[:, :-1][~ignored].abs().sum(-1) > 0).all()
    assert torch.equal(target_mask[:, :-1], ~ignored)  # per-domain counts use the same mask


def test_loss_mask_keys_are_checked_before_training(tokens):
    from training.data import PlanLoader

    tokens_dir, plan_path = tokens
    plan = pl.read_parquet(plan_path)
    with pytest.raises(ValueError, match=r"data.loss_mask.web: 'response' needs a loss mask"):
        PlanLoader(tokens_dir, plan, micro_batch_size=4, loss_mask={"web": "response"})
    with pytest.raises(ValueError, match=r"data.loss_mask.math: not a source of the plan"):
        PlanLoader(tokens_dir, plan, micro_batch_size=4, loss_mask={"math": "response"})


def test_training_with_a_response_mask_counts_only_trained_tokens(tokens, tmp_path):
    from training.trainer import train
    from training.trainer.testing import read_metrics, tiny_train_config

    tokens_dir, plan_path = tokens
    common = dict(tokens_dir=tokens_dir, plan_path=plan_path, max_steps=2)
    full = train(tiny_train_config(tmp_path, run_dir=tmp_path / "all", **common))
    resp = train(
        tiny_train_config(
            tmp_path, run_dir=tmp_path / "resp", data={"loss_mask": {"chat": "response"}}, **common
        )
    )
    a, b = read_metrics(full.metrics_path)[0], read_metrics(resp.metrics_path)[0]
    assert a["loss/general"] == b["loss/general"]  # same weights at step 1, web untouched
    assert a["loss/instruction"] != b["loss/instruction"]  # the mean over response tokens only
