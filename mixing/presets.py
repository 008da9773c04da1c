"""Published mid-training mixtures as (inventory, MixConfig) pairs (REFERENCE.md section 5).

Token counts are the published ones; each source's inventory size is set to what was drawn (one
epoch) unless said otherwise, so the plan reproduces the published shares exactly and epochs are 1.

- ``olmo2_dolmino_50b``: OLMo 2 7B "Dolmino" anneal, one 51.47B-token phase (the "50B" mix):
  DCLM 24.31B, math 10.69B, FLAN 8.54B, Wikipedia 3.66B, peS2o 3.01B, StackExchange 1.26B.
- ``smollm2_stages``: SmolLM2 stage shares: stage 1 web 90 / code 10; stage 2 web 75 / code 20 /
  math 5; decay web 58 / code 24 / math 14 / synthetic 4, over 60% / 30% / 10% of the tokens
  (WSD, decay over the last 10%). Source sizes are large enough that no cap binds.
"""

from __future__ import annotations

import polars as pl

from mixing.config import MixConfig, PhaseConfig

_B = 1_000_000_000

DOLMINO_TOKENS = {  # source: (domain, tokens)
    "dclm": ("general", 24_310_000_000),
    "math": ("math", 10_690_000_000),
    "flan": ("instruction", 8_540_000_000),
    "wikipedia": ("general", 3_660_000_000),
    "pes2o": ("academic", 3_010_000_000),
    "stackexchange": ("qa", 1_260_000_000),
}

SMOLLM2_SHARES = {
    "stage1": {"web": 0.90, "code": 0.10},
    "stage2": {"web": 0.75, "code": 0.20, "math": 0.05},
    "decay": {"web": 0.58, "code": 0.24, "math": 0.14, "synthetic": 0.04},
}


def olmo2_dolmino_50b(
    *, seq_len: int = 4096, tokens_per_step: int | None = None
) -> tuple[pl.DataFrame, MixConfig]:
    inventory = pl.DataFrame(
        {
            "source": list(DOLMINO_TOKENS),
            "domain": [d for d, _ in DOLMINO_TOKENS.values()],
            "num_tokens": [n for _, n in DOLMINO_TOKENS.values()],
        }
    )
    total = sum(n for _, n in DOLMINO_TOKENS.values())
    config = MixConfig(
        seq_len=seq_len,
        tokens_per_step=tokens_per_step,
        phases=[
            PhaseConfig(
                name="dolmino_anneal",
                tokens=total,
                source_targets={s: n / total for s, (_, n) in DOLMINO_TOKENS.items()},
            )
        ],
        min_general_share=0.5,  # DCLM + Wikipedia = 54.3%
        max_epochs=1.001,  # one epoch, plus headroom for rounding to whole sequences
    )
    return inventory, config


def smollm2_stages(*, total_tokens: int = 11_000 * _B, seq_len: int = 2048) -> tuple[pl.DataFrame, MixConfig]:
    domains = {"web": "general", "code": "code", "math": "math", "synthetic": "synthetic"}
    sizes = {"web": 5_000 * _B, "code": 1_000 * _B, "math": 200 * _B, "synthetic": 50 * _B}
    inventory = pl.DataFrame(
        {"source": list(sizes), "domain": [domains[s] for s in sizes], "num_tokens": list(sizes.values())}
    )
    fractions = {"stage1": 0.6, "stage2": 0.3, "decay": 0.1}
    config = MixConfig(
        total_tokens=total_tokens,
        seq_len=seq_len,
        phases=[
            PhaseConfig(name=name, fraction=fractions[name], source_targets=shares)
            for name, shares in SMOLLM2_SHARES.items()
        ],
        min_general_share=0.5,
    )
    return inventory, config


PRESETS = {"olmo2_dolmino_50b": olmo2_dolmino_50b, "smollm2_stages": smollm2_stages}
