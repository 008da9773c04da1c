"""Bad input gives a clear error naming what is wrong and where, before any model runs."""

from __future__ import annotations

import shutil

import pytest
from conftest import save_checkpoint, write_heldout, write_jsonl

from evaluation import EvalConfig, evaluate
from evaluation.checkpoints import check_checkpoint
from evaluation.evalsets import read_evalset
from evaluation.heldout import read_heldout


def test_missing_weights_or_config(tmp_path, checkpoints):
    no_weights = shutil.copytree(checkpoints["base"], tmp_path / "no_weights")
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no weights"):
        check_checkpoint(no_weights)
    no_config = shutil.copytree(checkpoints["base"], tmp_path / "no_config")
    (no_config / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"config\.json is missing"):
        check_checkpoint(no_config)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        check_checkpoint(tmp_path / "nowhere")


def test_tokenizer_larger_than_embeddings(tmp_path, tokenizer):
    folder = save_checkpoint(tmp_path / "small_vocab", tokenizer, vocab_size=len(tokenizer) - 50)
    with pytest.raises(
        ValueError, match=rf"tokenizer has {len(tokenizer)} tokens .* {len(tokenizer) - 50} rows"
    ):
        check_checkpoint(folder)


def test_evalset_missing_field_names_file_line_and_key(tmp_path):
    path = write_jsonl(tmp_path / "gsm.jsonl", [{"question": "q", "answer": "#### 1"}, {"question": "q2"}])
    with pytest.raises(ValueError, match=r"gsm\.jsonl:2: missing key 'answer'"):
        read_evalset(path, "gsm8k")
    mc = write_jsonl(tmp_path / "mc.jsonl", [{"question": "q", "choices": ["a", "b"], "answer": 2}])
    with pytest.raises(ValueError, match=r"mc\.jsonl:1: key 'answer' = 2 is not an index"):
        read_evalset(mc, "mc")


def test_heldout_line_without_domain(tmp_path):
    write_jsonl(
        tmp_path / "heldout" / "web" / "0.jsonl.gz",
        [{"text": "a", "metadata": {"domain": "general"}}, {"text": "b", "metadata": {}}],
    )
    with pytest.raises(ValueError, match=r"0\.jsonl\.gz:2: missing key 'metadata\.domain'"):
        read_heldout(tmp_path)


def test_evaluate_checks_every_input_before_running(tmp_path, checkpoints):
    write_heldout(tmp_path / "cur")
    bad = write_jsonl(
        tmp_path / "he.jsonl",
        [
            {"prompt": "def f():\n", "test": "", "entry_point": "f"},
            {"prompt": "def g():\n", "entry_point": "g"},
        ],
    )
    config = EvalConfig(heldout_dir=tmp_path / "cur", humaneval={"files": [bad]}, device="cpu")
    with pytest.raises(ValueError, match=r"he\.jsonl:2: missing key 'test'"):
        evaluate(checkpoints, config, tmp_path / "out")
    assert not (tmp_path / "out" / "eval.parquet").exists()
    with pytest.raises(ValueError, match="base: 'nope'"):
        evaluate(checkpoints, EvalConfig(base="nope", device="cpu"), tmp_path / "out")


def test_config_errors_name_the_key(tmp_path):
    path = tmp_path / "eval.yaml"
    path.write_text("seq_len: 128\ngsm8k:\n  limit: 0\n")
    with pytest.raises(ValueError, match=r"eval\.yaml: gsm8k\.limit"):
        EvalConfig.from_yaml(path)
    path.write_text("seq_len: 128\nsurprise: 1\n")
    with pytest.raises(ValueError, match="surprise"):
        EvalConfig.from_yaml(path)
