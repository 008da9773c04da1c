"""Tiny offline factories for evaluation tests: a byte-level BPE tokenizer trained here, tiny Llamas
saved with ``save_pretrained``, held-out slices and benchmark files in tmp folders."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest
import torch

GENERAL = [
    "The river flows past the old mill and the children walk along its banks every morning.",
    "A small town holds a market on Saturdays where farmers sell bread, cheese and apples.",
    "The library opens at nine and closes at six; the reading room is quiet all afternoon.",
    "Clouds gathered over the hills before the storm reached the valley in the evening.",
]
MATH = [
    "Question: Tom has 3 apples and buys 4 more. How many apples does he have? Answer: 3 + 4 = 7. #### 7",
    "Solve 2x + 6 = 10. Subtract 6 from both sides: 2x = 4, so x = 2. #### 2",
    "The sum of the angles of a triangle is 180 degrees; two angles are 60 and 70, the third is 50.",
]
CODE = [
    "def add(a, b):\n    return a + b\n\n\ndef square(x):\n    return x * x\n",
    "for i in range(10):\n    if i % 2 == 0:\n        print(i)\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n        self.items.append(x)\n",
]
DOMAINS = {"general": GENERAL, "math": MATH, "code": CODE}


def train_tokenizer(vocab_size: int = 400):
    """Byte-level BPE on a few KB of the texts above, wrapped as a PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>", "<|pad|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = [t for texts in DOMAINS.values() for t in texts] * 20 + [str(i) for i in range(1000)]
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|pad|>")


def tiny_llama(vocab_size: int, *, seed: int = 0, **overrides):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    settings = dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        eos_token_id=0,
        pad_token_id=1,
        bos_token_id=0,
    )
    config = LlamaConfig(vocab_size=vocab_size, **{**settings, **overrides})
    model = LlamaForCausalLM(config)
    model.eval()
    return model


def save_checkpoint(directory: Path, tokenizer, *, seed: int = 0, vocab_size: int | None = None) -> Path:
    model = tiny_llama(vocab_size or len(tokenizer), seed=seed)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return path


def write_heldout(root: Path, *, docs_per_domain: int = 6, seed: int = 0) -> Path:
    rng = random.Random(seed)
    for domain, texts in DOMAINS.items():
        records = [
            {"text": " ".join(rng.sample(texts, k=2)), "id": f"{domain}-{i}", "metadata": {"domain": domain}}
            for i in range(docs_per_domain)
        ]
        write_jsonl(root / "heldout" / f"{domain}_src" / "00000.jsonl.gz", records)
    return root


@pytest.fixture(scope="session")
def tokenizer():
    return train_tokenizer()


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory, tokenizer) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ckpts")
    return {
        "base": save_checkpoint(root / "base", tokenizer, seed=0),
        "annealed": save_checkpoint(root / "annealed", tokenizer, seed=1),
    }


@pytest.fixture(scope="session")
def loaded_base(checkpoints):
    from evaluation.checkpoints import load_checkpoint

    return load_checkpoint("base", checkpoints["base"], device="cpu")
