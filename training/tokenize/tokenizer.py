"""Resolve the tokenizer for `midtrain tokenize` and save it as an HF tokenizer folder.

Whatever the user gives (a ``tokenizer.json`` file, a local HF tokenizer folder, a hub name, or
nothing, in which case a byte-level BPE is trained here), the result is written to
``tokens/tokenizer.json`` + ``tokens/tokenizer_config.json``, so that

* datatrove's ``DocumentTokenizer`` gets the *file* path it needs (a folder fails), and
* the trainer can ``AutoTokenizer.from_pretrained(tokens_dir)`` and save it next to the model.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from training.tokenize.config import EOS_TOKEN, PAD_TOKEN, TokenizeConfig

# EOS spellings of common tokenizers, tried in order when the tokenizer does not declare one.
KNOWN_EOS = ("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>", "<|eos|>")


@dataclass(frozen=True)
class TokenizerInfo:
    path: Path  # tokens/tokenizer.json
    origin: str  # "trained", a file/folder path, or a hub name
    eos_token: str
    eos_token_id: int
    pad_token: str
    pad_token_id: int
    vocab_size: int  # including added/special tokens: the embedding size a model needs
    bos_token: str | None = None  # the tokenizer's BOS (e.g. Llama's <s>), when it has one
    bos_token_id: int | None = None
    add_bos: bool = False  # every document starts with BOS (as the tokenizer's own template does)


def train_bpe(texts: Iterator[str], *, vocab_size: int, min_frequency: int):
    """Train a byte-level BPE (GPT-2 style: no unknown tokens) with EOS and PAD as ids 0 and 1."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[EOS_TOKEN, PAD_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def _load_hf(name_or_dir: str):
    from transformers import AutoTokenizer

    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    try:
        tok = AutoTokenizer.from_pretrained(name_or_dir, local_files_only=offline)
    except OSError as e:
        where = "local folder" if Path(name_or_dir).is_dir() else "hub name (needs network)"
        raise ValueError(f"tokenizer {name_or_dir!r} ({where}): could not load it: {e}") from e
    if not getattr(tok, "is_fast", False):
        raise ValueError(f"tokenizer {name_or_dir!r}: no fast (tokenizer.json) version could be made")
    return tok


def resolve_tokenizer(
    config: TokenizeConfig, out_dir: Path, texts: Iterator[str] | None = None
) -> TokenizerInfo:
    """Load or train the tokenizer and save it as an HF folder in ``out_dir``."""
    from transformers import PreTrainedTokenizerFast

    out_dir.mkdir(parents=True, exist_ok=True)
    spec = config.tokenizer
    if spec is None:
        assert texts is not None, "training a tokenizer needs texts"
        backend = train_bpe(texts, vocab_size=config.vocab_size, min_frequency=config.min_frequency)
        tok = PreTrainedTokenizerFast(tokenizer_object=backend)
        origin = "trained"
    elif Path(spec).is_file():
        tok = PreTrainedTokenizerFast(tokenizer_file=str(spec))
        origin = str(Path(spec).resolve())
    elif Path(spec).is_dir():
        if not any((Path(spec) / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")):
            raise FileNotFoundError(f"{spec}: folder has neither tokenizer.json nor tokenizer_config.json")
        tok = _load_hf(spec)
        origin = str(Path(spec).resolve())
    elif spec.endswith(".json") or spec.startswith((".", "/", "~")):
        raise FileNotFoundError(f"tokenizer {spec}: no such file or folder")
    else:
        tok = _load_hf(spec)
        origin = spec

    eos = config.eos_token or (EOS_TOKEN if origin == "trained" else tok.eos_token)
    vocab = tok.get_vocab()
    if eos is None:
        eos = next((t for t in KNOWN_EOS if t in vocab), None)
    if eos is None or eos not in vocab:
        raise ValueError(
            f"tokenizer {origin}: no EOS token {'(' + repr(eos) + ' is not in the vocabulary) ' if eos else ''}"
            "to separate documents; pass --eos-token / TokenizeConfig.eos_token"
        )
    # A tokenizer without PAD reuses EOS: adding a token would change the vocabulary size.
    pad = tok.pad_token or (PAD_TOKEN if PAD_TOKEN in vocab else eos)
    tok.eos_token, tok.pad_token = eos, pad
    bos, template_bos = tok.bos_token, template_prefix(tok)
    bos = bos or template_bos
    add_bos = bool(bos) and (config.add_bos if config.add_bos is not None else template_bos == bos)
    if bos:
        tok.bos_token = bos
    tok.save_pretrained(str(out_dir))
    path = out_dir / "tokenizer.json"
    assert path.is_file(), f"save_pretrained wrote no {path}"
    return TokenizerInfo(
        path=path,
        origin=origin,
        eos_token=eos,
        eos_token_id=vocab[eos],
        pad_token=pad,
        pad_token_id=vocab[pad],
        vocab_size=len(tok),
        bos_token=bos,
        bos_token_id=vocab[bos] if bos else None,
        add_bos=add_bos,
    )


def template_prefix(tok) -> str | None:
    """The special token the tokenizer's own post-processor puts before every text (Llama's <s>)."""
    import json

    processor = json.loads(tok.backend_tokenizer.to_str()).get("post_processor") or {}
    if processor.get("type") == "Sequence":
        processor = next(
            (p for p in processor.get("processors", []) if p.get("type") == "TemplateProcessing"), {}
        )
    if processor.get("type") != "TemplateProcessing":
        return None
    first = (processor.get("single") or [{}])[0]
    return first.get("SpecialToken", {}).get("id")
