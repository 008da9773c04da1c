"""`EvalConfig`: what `midtrain eval` measures, validated once and loadable from YAML.

Every sub-config is optional: a section left out (or with no files) is skipped. Unknown keys fail
fast with the path of the key, as everywhere in midtrain.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GenerationTaskConfig(_Strict):
    """A generation benchmark (GSM8K- or HumanEval-format jsonl files)."""

    files: list[Path] = Field(default_factory=list, description="Local .jsonl files of the task.")
    limit: int | None = Field(None, ge=1, description="Items per file at most (None = all).")
    max_new_tokens: int = Field(256, ge=1, description="Greedy generation budget per item, in tokens.")
    batch_size: int = Field(8, ge=1, description="Prompts generated together (left-padded).")


class GSM8KConfig(GenerationTaskConfig):
    """GSM8K-format math, prompted as lm-eval's ``gsm8k`` task by default (5-shot, "Question: ...\nAnswer:")."""

    num_fewshot: int = Field(5, ge=0, description="Solved examples before each question (lm-eval: 5).")
    fewshot_file: Path | None = Field(
        None,
        description="GSM8K-format jsonl the shots come from (its first num_fewshot items); None: for "
        "each item, the num_fewshot items after it in the same file (cyclic, never the item itself).",
    )
    prompt_template: str = Field(
        "Question: {question}\nAnswer:", description="One question; `{question}` is filled in."
    )
    fewshot_delimiter: str = Field("\n\n", description="Between shots and before the question.")
    target_delimiter: str = Field(" ", description="Between a shot's prompt and its full answer.")

    @field_validator("prompt_template")
    @classmethod
    def _has_question(cls, template: str) -> str:
        if "{question}" not in template:
            raise ValueError("prompt_template must contain {question}")
        return template


class HumanEvalConfig(GenerationTaskConfig):
    """HumanEval-format code benchmark; tests run in a resource-limited subprocess."""

    timeout_s: float = Field(10.0, gt=0, description="Wall-clock limit per program, in seconds.")
    memory_mb: int = Field(1024, ge=64, description="Address-space limit per program, in MiB.")
    cpu_s: int = Field(10, ge=1, description="CPU-time limit per program, in seconds.")
    workers: int = Field(2, ge=1, description="Programs run at the same time (subprocesses).")


class MultipleChoiceConfig(_Strict):
    """Multiple choice by log-likelihood: jsonl lines {question, choices, answer (index)}."""

    files: list[Path] = Field(default_factory=list, description="Local .jsonl files, one task per file.")
    limit: int | None = Field(None, ge=1, description="Items per file at most (None = all).")
    batch_size: int = Field(16, ge=1, description="(context, choice) pairs scored per forward pass.")


class LongContextConfig(_Strict):
    """Passkey retrieval and single-needle-in-a-haystack probes, generated locally."""

    probes: list[str] = Field(["passkey", "needle"], description="Which probes to run.")
    lengths: list[int] = Field(default_factory=list, description="Prompt lengths, in tokens.")
    depths: list[float] = Field(
        [0.0, 0.5, 1.0], description="Where the key sits, as a fraction of the prompt."
    )
    num_trials: int = Field(5, ge=1, description="Prompts per (length, depth) cell.")
    seed: int = Field(0, description="Seed of the random keys and fillers.")
    trained_length: int | None = Field(
        None,
        ge=1,
        description="Context the model was trained on, marked on the heatmaps; None: the "
        "base checkpoint's max_position_embeddings.",
    )

    @field_validator("depths")
    @classmethod
    def _depths_in_unit(cls, depths: list[float]) -> list[float]:
        bad = [d for d in depths if not 0.0 <= d <= 1.0]
        if bad:
            raise ValueError(f"depths must be in [0, 1], got {bad}")
        return depths

    @field_validator("lengths")
    @classmethod
    def _lengths_positive(cls, lengths: list[int]) -> list[int]:
        bad = [n for n in lengths if n < 64]
        if bad:
            raise ValueError(f"lengths must be >= 64 tokens, got {bad}")
        return lengths

    @field_validator("probes")
    @classmethod
    def _known_probes(cls, probes: list[str]) -> list[str]:
        bad = [p for p in probes if p not in ("passkey", "needle")]
        if bad:
            raise ValueError(f"unknown probe(s) {bad}; choose from ['passkey', 'needle']")
        return probes


class ContaminationConfig(_Strict):
    """n-gram overlap audit of eval sets against the curated training data."""

    curated_dir: Path | None = Field(
        None, description="curation output (holding curated/) or curated/ itself."
    )
    files: list[Path] = Field(
        default_factory=list, description="Eval sets to audit; empty = every benchmark file above."
    )
    n: int = Field(13, ge=1, description="n-gram length, in words (13 as in GPT-3 / lm-eval).")


class LmEvalConfig(_Strict):
    """Run the same local tasks through lm-evaluation-harness (optional extra `midtrain[lmeval]`)."""

    enabled: bool = Field(False, description="Needs `pip install lm-eval`; off by default.")
    batch_size: int = Field(8, ge=1, description="HFLM batch size.")


class ReferenceSetConfig(_Strict):
    """Held-out text of the model's *original* distribution, scored like a domain (``loss/reference:<name>``).

    Either ``path`` (a .jsonl/.jsonl.gz/.parquet file with a text field, a .txt/.md file, or a folder
    of those), or ``domain`` alone: that domain's documents in ``heldout_dir`` (e.g. the held-out
    slice of the general data a base model was pre-trained on). With both, only records whose
    ``metadata.domain`` is ``domain`` are read.
    """

    path: Path | None = Field(None, description="File or folder of reference documents.")
    domain: str | None = Field(None, description="Keep only this metadata.domain; alone: from heldout_dir.")
    text_key: str = Field("text", description="Field holding the text in jsonl/parquet records.")
    split_by: str = Field(
        "paragraph", description="How .txt/.md files become documents: 'file', 'paragraph' or 'line'."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value):
        return {"path": value} if isinstance(value, str | Path) else value

    @model_validator(mode="after")
    def _has_source(self) -> ReferenceSetConfig:
        if self.path is None and self.domain is None:
            raise ValueError("a reference set needs `path` or `domain`")
        if self.split_by not in ("file", "paragraph", "line"):
            raise ValueError(f"split_by must be file, paragraph or line, got {self.split_by!r}")
        return self


class EvalConfig(_Strict):
    """Everything `evaluate()` needs besides the model folders."""

    heldout_dir: Path | None = Field(
        None, description="curation output (holding heldout/) or heldout/ itself; None skips held-out loss."
    )
    seq_len: int = Field(512, ge=8, description="Packed window length for held-out loss, in tokens.")
    batch_size: int = Field(8, ge=1, description="Windows per forward pass for held-out loss.")
    max_tokens_per_domain: int | None = Field(
        200_000, ge=1, description="Held-out tokens scored per domain at most (None = all)."
    )
    base: str | None = Field(None, description="Label of the base checkpoint; default: the first one.")
    target_domains: list[str] = Field(["math", "code"], description="Domains mid-training should improve.")
    general_domains: list[str] = Field(["general"], description="Domains whose loss must be retained.")
    reference_sets: dict[str, ReferenceSetConfig] = Field(
        default_factory=dict,
        description="name -> held-out text of the model's original distribution; when given, the "
        "retention verdict uses these instead of the anneal's own general domains.",
    )
    forgetting_threshold: float = Field(
        0.05, ge=0.0, description="Loss increase on a general domain (nats/token) flagged as forgetting."
    )
    gsm8k: GSM8KConfig = Field(default_factory=GSM8KConfig)
    humaneval: HumanEvalConfig = Field(default_factory=HumanEvalConfig)
    mc: MultipleChoiceConfig = Field(default_factory=MultipleChoiceConfig)
    longcontext: LongContextConfig = Field(default_factory=LongContextConfig)
    contamination: ContaminationConfig = Field(default_factory=ContaminationConfig)
    lm_eval: LmEvalConfig = Field(default_factory=LmEvalConfig)
    device: str = Field(
        "auto", description="'auto' (cuda if available, else cpu), 'cpu', 'cuda', 'cuda:1', ..."
    )
    dtype: str = Field(
        "auto", description="'auto' (bf16 on GPU, fp32 on CPU), 'float32', 'bfloat16', 'float16'."
    )

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, dtype: str) -> str:
        if dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ValueError(f"dtype must be auto, float32, bfloat16 or float16, got {dtype!r}")
        return dtype

    @model_validator(mode="after")
    def _references_need_heldout(self) -> EvalConfig:
        lone = [name for name, ref in self.reference_sets.items() if ref.path is None]
        if lone and self.heldout_dir is None:
            raise ValueError(
                f"reference_sets {lone}: `domain` without `path` reads heldout_dir, which is not set"
            )
        return self

    @model_validator(mode="after")
    def _domains_disjoint(self) -> EvalConfig:
        both = sorted(set(self.target_domains) & set(self.general_domains))
        if both:
            raise ValueError(f"domain(s) {both} are both target and general domains")
        return self

    @classmethod
    def from_yaml(cls, path: str | Path) -> EvalConfig:
        """Load a YAML file; errors name the file and the key path (``gsm8k.limit: ...``)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no eval config here")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: an eval config is a mapping of keys, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            first = error.errors()[0]
            key = ".".join(str(part) for part in first["loc"]) or "(root)"
            raise ValueError(f"{path}: {key}: {first['msg']}") from None
