"""`TokenizeConfig`: how `midtrain tokenize` turns curated sources into token shards."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Special tokens of a tokenizer trained here: EOS closes every document, PAD pads batches.
EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"


class TokenizeConfig(BaseModel):
    """Tokenizer choice and sharding options for `tokenize_curated`."""

    model_config = ConfigDict(extra="forbid")

    tokenizer: str | None = Field(
        None,
        description="A tokenizer.json file, a local HF tokenizer folder, or a hub name (online only). "
        "None trains a byte-level BPE on the curated text and saves it to tokens/tokenizer.json.",
    )
    vocab_size: int = Field(
        4096, ge=260, le=1_000_000, description="Vocabulary size (tokens) of a locally trained tokenizer."
    )
    eos_token: str | None = Field(
        None,
        description="Text of the token appended after every document. None: <|endoftext|> for a trained "
        "tokenizer, else the tokenizer's own EOS (tokenizer_config.json or a well-known name).",
    )
    add_bos: bool | None = Field(
        None,
        description="Start every document with the tokenizer's BOS (e.g. Llama's <s>). None: when the "
        "tokenizer's own template adds one (datatrove's EOS template would otherwise drop it).",
    )
    train_max_chars: int = Field(
        50_000_000,
        ge=1_000,
        description="Characters of curated text (over all sources) used to train a local tokenizer.",
    )
    min_frequency: int = Field(2, ge=1, description="Minimum pair count for a BPE merge (trained tokenizer).")
    text_key: str = Field("text", description="Field of the curated records that holds the document text.")
    num_workers: int = Field(
        1, ge=1, description="datatrove worker processes per source (one task per curated file)."
    )
    batch_size: int = Field(1000, ge=1, description="Documents per tokenizer batch (datatrove).")
