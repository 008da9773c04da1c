"""Tokenization: curated sources -> datatrove token shards + exact counts (`midtrain tokenize`)."""

from training.tokenize.command import tokenize_command
from training.tokenize.config import EOS_TOKEN, PAD_TOKEN, TokenizeConfig
from training.tokenize.run import count_shards, tokenize_curated
from training.tokenize.tokenizer import TokenizerInfo, resolve_tokenizer

__all__ = [
    "EOS_TOKEN",
    "PAD_TOKEN",
    "TokenizeConfig",
    "TokenizerInfo",
    "count_shards",
    "resolve_tokenizer",
    "tokenize_command",
    "tokenize_curated",
]
