"""Configuration of a curation run: one pydantic model, loadable from YAML.

``CurationConfig`` nests one sub-config per concern (sources, filters, dedup, decontamination,
held-out slice, token counting, executor, classifiers). Unknown keys are errors, so a typo in a
YAML file fails before any work starts with the path of the key.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from curation.config_errors import from_validation_error, load_yaml_mapping
from curation.synth.config import SynthesizeConfig

SourceFormat = Literal["auto", "jsonl", "parquet", "text", "hf_disk", "hf_hub"]
FILTER_NAMES = ("gopher_quality", "gopher_repetition", "c4", "fineweb", "code_quality")
SourceKind = Literal["auto", "web", "curated", "math", "instruction", "code"]
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InstructionConfig(_Model):
    """A source whose records are instruction data: a chat or a prompt/response pair (not text).

    The curated record keeps the conversation as read, in ``metadata.instruction`` (``messages``,
    or ``prompt`` + ``response``); its ``text`` is the turns' contents joined by blank lines, which
    is what filters, dedup, decontamination and held-out loss judge (curation/readers/instruct.py).
    """

    format: Literal["messages", "prompt_response"] = Field(
        description="'messages': a list of {role, content} turns (roles system, user, assistant; at least "
        "one non-empty assistant turn); 'prompt_response': one prompt and one response field"
    )
    messages_key: str = Field("messages", description="record key holding the turns (format messages)")
    prompt_key: str = Field("prompt", description="record key holding the prompt (format prompt_response)")
    response_key: str = Field(
        "response", description="record key holding the response (format prompt_response)"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data):
        return {"format": data} if isinstance(data, str) else data  # `instruction: messages`

    def record_keys(self) -> list[str]:
        """The record keys this format reads."""
        return [self.messages_key] if self.format == "messages" else [self.prompt_key, self.response_key]


class SourceConfig(_Model):
    """One input source: a file, a folder, a glob, or a HuggingFace dataset."""

    name: str = Field(description="unique source name; also the folder name under curated/ and heldout/")
    path: str = Field(description="file, folder or glob (jsonl[.gz|.zst], parquet, *.txt); or HF dataset")
    format: SourceFormat = Field("auto", description="input format; 'auto' guesses from the file suffixes")
    text_key: str = Field("text", description="record key holding the document text")
    id_key: str | None = Field(
        None,
        description="record key holding a document id (default: 'id' when present, else source/file/line)",
    )
    domain: str | None = Field(None, description="domain hint (math, code, general, ...) for every doc")
    split: str = Field("train", description="split of a HuggingFace dataset (hf_disk/hf_hub only)")
    glob: str | None = Field(None, description="file pattern inside a folder path, e.g. '*.jsonl.gz'")
    kind: SourceKind = Field(
        "auto",
        description="what text this is, which picks its filter profile: web (crawl), curated (encyclopedia, "
        "books), math, instruction, code; auto: from `domain` (code -> code, math/reasoning -> math, "
        "instruction -> instruction, else curated). A web crawl should say `kind: web`",
    )
    filters: list[str] | None = Field(
        None, description="heuristic filters for this source (options from its profile); None: the profile's"
    )
    split_by: Literal["whole", "paragraphs", "lines", "pattern"] = Field(
        "whole",
        description="how a plain-text file (.txt/.md/.text, format text) is cut into documents: 'whole' "
        "(default: the file is one document; a file over max_doc_bytes is rejected as file_too_large), "
        "'paragraphs' (runs of non-blank lines; blank lines separate), 'lines' (each non-blank line), "
        "'pattern' (a line matching split_pattern starts a new document and stays its first line). "
        "Records (jsonl/parquet/HF) are never split",
    )
    split_pattern: str | None = Field(
        None,
        description="regex matched against each line of a text file (re.MULTILINE, without the newline); "
        "a matching line starts a new document, e.g. WikiText's article titles '^ = [^=].* = $'. "
        "Setting it implies split_by: pattern",
    )
    text_template: str | None = Field(
        None,
        description="build the document text from several record fields with Python format syntax, e.g. "
        "'Question: {question}\\nAnswer: {answer}' (jsonl/parquet/HF); a record without one of the "
        "fields is rejected as missing_template_field. Replaces text_key (set one or the other)",
    )
    instruction: InstructionConfig | None = Field(
        None,
        description="the records are instruction data, kept whole for tokenization's chat template and "
        "loss mask: 'messages' or 'prompt_response' (or {format, messages_key | prompt_key, response_key} "
        "to name the record keys). Replaces text_key and text_template (docs/curation.md)",
    )

    @field_validator("filters")
    @classmethod
    def _check_filters(cls, value: list[str] | None) -> list[str] | None:
        unknown = [n for n in value or [] if n not in FILTER_NAMES]
        if unknown:
            raise ValueError(f"unknown filter name(s) {unknown}; known filters: {list(FILTER_NAMES)}")
        return value

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError(f"source name {value!r} must be a folder-safe name ([A-Za-z0-9_.-])")
        return value

    @model_validator(mode="after")
    def _check_split_and_template(self) -> SourceConfig:
        from curation.readers.template import check_template
        from curation.readers.text import check_split

        self.split_by = check_split(self.split_by, self.split_pattern)
        if self.text_template is not None:
            if "text_key" in self.model_fields_set and self.text_key != "text":
                raise ValueError(
                    f"text_template and text_key={self.text_key!r} are mutually exclusive: the template "
                    "names the fields it uses; remove one of them"
                )
            check_template(self.text_template)
        if self.instruction is not None:
            other = "text_template" if self.text_template is not None else "text_key"
            if self.text_template is not None or "text_key" in self.model_fields_set:
                raise ValueError(
                    f"instruction and {other} are mutually exclusive: an instruction source's text is "
                    f"rendered from its turns ({self.instruction.record_keys()}); remove {other}"
                )
        return self


class FiltersConfig(_Model):
    """Heuristic quality filters. Which ones judge a source, and how, comes from its ``kind``
    (profiles in ``curation/filters/profiles.py``); options here merge over the profile's."""

    enabled: list[str] | None = Field(
        None,
        description=f"filters for every source without its own `filters:` list; None (default): each "
        f"source's profile decides. Known: {', '.join(FILTER_NAMES)}",
    )
    profiles: dict[str, dict[str, dict | None]] = Field(
        default_factory=dict,
        description="per kind (web, curated, math, instruction, code), per filter, options merged over "
        "the built-in profile (`{math: {gopher_repetition: {dup_line_frac: 0.6}}}`); `null` for a filter "
        "removes it from that kind's profile",
    )
    gopher_quality: dict = Field(
        default_factory=dict, description="GopherQualityFilter options for every profile that runs it"
    )
    gopher_repetition: dict = Field(
        default_factory=dict, description="GopherRepetitionFilter options for every profile that runs it"
    )
    c4: dict = Field(
        default_factory=dict, description="C4QualityFilter options for every profile that runs it"
    )
    fineweb: dict = Field(
        default_factory=dict, description="FineWebQualityFilter options for every profile that runs it"
    )
    code_quality: dict = Field(
        default_factory=dict, description="CodeQualityFilter options for every profile that runs it"
    )
    agreement_sample_rate: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="share of docs judged with both the fast and the spaCy tokenizer to measure decision "
        "agreement (reports/summary.json); costs spaCy time on that share",
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data):
        if isinstance(data, dict):
            for old, fix in (
                (
                    "domain_overrides",
                    "use `filters.profiles: {<kind>: {<filter>: {...}}}` (merged over the built-in profile)",
                ),
                (
                    "skip_domains",
                    "code sources use the `code` profile; set `kind:` on a source to choose its profile",
                ),
            ):
                if old in data:
                    raise ValueError(f"`{old}` was replaced by source kinds and profiles: {fix}")
        return data

    @field_validator("enabled")
    @classmethod
    def _check_names(cls, value: list[str] | None) -> list[str] | None:
        unknown = [n for n in value or [] if n not in FILTER_NAMES]
        if unknown:
            raise ValueError(f"unknown filter name(s) {unknown}; known filters: {list(FILTER_NAMES)}")
        return value

    @model_validator(mode="after")
    def _check_options(self) -> FiltersConfig:
        from curation.filters.profiles import resolve_profiles

        resolve_profiles(self)  # unknown kinds, filters and option names fail here, with their key
        return self


class GuardConfig(_Model):
    """Warnings before a source is lost (printed, and in reports/warnings.json)."""

    max_drop_fraction: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        description="warn when one step drops more than this share of a source's documents",
    )
    strict: bool = Field(
        False, description="turn the warnings into an error before inventory.parquet is written"
    )


class DedupConfig(_Model):
    """Exact and MinHash near-duplicate removal across all sources."""

    exact: bool = Field(True, description="drop docs whose normalised text hash repeats")
    minhash: bool = Field(True, description="drop MinHash near-duplicates (datatrove's four stages)")
    n_grams: int = Field(5, ge=1, description="words per shingle")
    num_buckets: int = Field(14, ge=1, description="LSH bands (b)")
    hashes_per_bucket: int = Field(8, ge=1, description="rows per band (r)")
    seed: int = Field(1, description="seed of the MinHash permutations")
    source_priority: list[str] | None = Field(
        None,
        description="source names, most trusted first; the kept copy of a duplicate comes from the "
        "highest-ranked source (default: the order of `sources`)",
    )
    max_examples: int = Field(50, ge=0, description="duplicate clusters with text examples in the report")
    against: str | list[str] | None = Field(
        None,
        description="a previous curation output folder, or a list of them: new documents that duplicate "
        "their corpora (exact or MinHash, from each one's saved dedup_index/) are dropped as "
        "`dedup_against`; they are only read, never changed, and need the same MinHash settings. A run's "
        "index holds only what it kept, so after A, then B against A, curate C against [A, B]",
    )

    @field_validator("against")
    @classmethod
    def _against_listed(cls, value):
        if isinstance(value, list) and not value:
            raise ValueError("an empty list; give at least one previous output folder, or remove the key")
        return value

    def against_paths(self) -> list[str]:
        """``against`` as a list (one path, a list of them, or none)."""
        if self.against is None:
            return []
        return [self.against] if isinstance(self.against, str) else list(self.against)


class EvalSetConfig(_Model):
    """An evaluation set on local disk whose n-grams must not appear in training data."""

    name: str = Field(description="eval set name used in reports")
    path: str = Field(description="jsonl[.gz] file")
    format: Literal["gsm8k", "humaneval", "generic"] = Field("generic", description="preset of text keys")
    text_keys: list[str] | None = Field(None, description="keys to index; default from `format`")

    def keys(self) -> list[str]:
        if self.text_keys:
            return list(self.text_keys)
        return {"gsm8k": ["question", "answer"], "humaneval": ["prompt", "canonical_solution"]}.get(
            self.format, ["text"]
        )


class DecontConfig(_Model):
    eval_sets: list[EvalSetConfig] = Field(
        default_factory=list, description="eval sets to decontaminate against"
    )
    n: int = Field(13, ge=3, description="n-gram size in words")
    mode: Literal["drop", "flag"] = Field("drop", description="drop contaminated docs, or keep and flag them")
    min_item_words: int = Field(
        8, ge=1, description="eval fields shorter than this many words are not indexed"
    )


class HeldoutConfig(_Model):
    fraction: float | None = Field(
        0.01,
        ge=0.0,
        le=0.5,
        description="share of each source's surviving docs held out (None: max_docs only)",
    )
    max_docs: int | None = Field(1000, ge=0, description="cap on held-out docs per source (None: no cap)")
    seed: int = Field(0, description="seed of the held-out selection")


class TokensConfig(_Model):
    tokenizer_path: str | None = Field(None, description="tokenizer.json; None: estimate bytes/4 (flagged)")


class ExecutorConfig(_Model):
    kind: Literal["local", "ray", "slurm"] = Field("local", description="datatrove executor")
    tasks: int = Field(2, ge=1, description="tasks (shards) per stage")
    workers: int = Field(-1, description="parallel worker processes (local; -1: one per task)")
    slurm: dict = Field(
        default_factory=lambda: {"time": "4:00:00", "partition": "cpu"},
        description="extra SlurmPipelineExecutor keyword arguments",
    )
    ray: dict = Field(default_factory=dict, description="extra RayPipelineExecutor keyword arguments")


KNOWN_DOMAINS = ("math", "code", "reasoning", "general")  # = curation.classifiers.DEFAULT_DOMAINS


class QualityCutConfig(_Model):
    """The quality cut of one scope (``classifiers.per_domain.<domain>``, ``classifiers.per_source.<name>``).

    A key left out inherits the wider scope's value (source over domain over global); ``null``
    switches that cut off in this scope.
    """

    min_quality: float | None = Field(None, ge=0, le=1, description="drop docs scoring below this")
    top_percentile: float | None = Field(
        None, gt=0, le=100, description="keep the best p % by quality score (see ClassifiersConfig)"
    )


class ClassifiersConfig(_Model):
    """fastText classifiers and the quality cuts, global or per domain / per source.

    A document's cut: ``per_source[<its source>]`` keys, else ``per_domain[<its domain>]`` keys,
    else the global ``min_quality`` / ``top_percentile`` unless its domain is in ``exempt_domains``.
    """

    quality_model: str | None = Field(None, description="fastText quality model (.bin)")
    domain_model: str | None = Field(None, description="fastText domain model (.bin)")
    min_quality: float | None = Field(
        None, ge=0, le=1, description="drop docs scoring below this (not in exempt_domains)"
    )
    top_percentile: float | None = Field(
        None,
        gt=0,
        le=100,
        description="keep the best p % of each source's documents of each domain, by quality score "
        "(ties at the threshold kept); decided over all tasks in the dedup cluster stage, among the "
        "documents that passed every filter (not in exempt_domains)",
    )
    exempt_domains: list[str] = Field(
        default_factory=lambda: ["code"],
        description="domains the GLOBAL cuts skip (a quality model trained on prose scores real code "
        "near 0: min_quality 0.5 dropped ~97 % of it); per_domain / per_source cuts still apply",
    )
    per_domain: dict[str, QualityCutConfig] = Field(
        default_factory=dict, description="cuts for documents of a domain (the tagged domain)"
    )
    per_source: dict[str, QualityCutConfig] = Field(
        default_factory=dict, description="cuts for documents of a source (wins over per_domain)"
    )
    min_domain_confidence: float = Field(
        0.0, ge=0, le=1, description="below this model confidence, the source's domain hint wins"
    )

    @model_validator(mode="after")
    def _check_cuts(self) -> ClassifiersConfig:
        if self.quality_model is None:
            cuts = [k for k in ("min_quality", "top_percentile") if getattr(self, k) is not None]
            cuts += [f"per_domain.{k}" for k in self.per_domain] + [
                f"per_source.{k}" for k in self.per_source
            ]
            if cuts:
                raise ValueError(f"classifiers.{cuts[0]}: a quality cut needs classifiers.quality_model")
        return self

    def check_scopes(self, sources: list[SourceConfig]) -> None:
        """Unknown source or domain names in ``per_source`` / ``per_domain`` are errors naming the key."""
        names = [s.name for s in sources]
        for key in self.per_source:
            if key not in names:
                raise ValueError(f"classifiers.per_source.{key}: unknown source; sources are {names}")
        if self.domain_model is None:  # with a model, its labels are checked when the run is built
            domains = sorted(set(KNOWN_DOMAINS) | {s.domain for s in sources if s.domain})
            for key in self.per_domain:
                if key not in domains:
                    raise ValueError(f"classifiers.per_domain.{key}: unknown domain; domains are {domains}")


class CurationConfig(_Model):
    """A whole curation run. ``run_curation(config, out_dir)`` executes it."""

    sources: list[SourceConfig] = Field(description="input sources; names must be unique")
    filters: FiltersConfig = Field(default_factory=FiltersConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    decontamination: DecontConfig = Field(default_factory=DecontConfig)
    heldout: HeldoutConfig = Field(default_factory=HeldoutConfig)
    tokens: TokensConfig = Field(default_factory=TokensConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    classifiers: ClassifiersConfig = Field(default_factory=ClassifiersConfig)
    guard: GuardConfig = Field(default_factory=GuardConfig)
    word_tokenizer: Literal["fast", "spacy"] = Field(
        "fast", description="word splitter for filters and MinHash"
    )
    max_doc_bytes: int = Field(
        1_000_000, ge=1, description="docs larger than this (UTF-8 bytes) are rejected"
    )
    language: str = Field("en", description="language of the heuristics (stop words, spaCy model)")
    synthesize: SynthesizeConfig | None = Field(
        None, description="synthetic sources generated from curated ones (docs/curation_synthetic.md)"
    )

    @model_validator(mode="after")
    def _check(self) -> CurationConfig:
        names = [s.name for s in self.sources]
        if not names:
            raise ValueError("sources: at least one source is needed")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"sources: duplicate source name(s) {dupes}")
        if self.dedup.source_priority is not None:
            unknown = [n for n in self.dedup.source_priority if n not in names]
            if unknown:
                raise ValueError(f"dedup.source_priority: unknown source(s) {unknown}; sources are {names}")
        self.classifiers.check_scopes(self.sources)
        return self

    @classmethod
    def from_yaml(cls, path: str | Path) -> CurationConfig:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such config file")
        data = load_yaml_mapping(path)
        if "curation" in data and "sources" not in data:  # a recipe file's curation section
            data = data["curation"] if isinstance(data["curation"], dict) else {}
        base = path.parent
        for source in data.get("sources", []) or []:
            _resolve(source, "path", base)
        for ev in (data.get("decontamination") or {}).get("eval_sets", []) or []:
            _resolve(ev, "path", base)
        if isinstance(data.get("dedup"), dict):
            _resolve(data["dedup"], "against", base)
        try:
            return cls.model_validate(data)
        except ValidationError as error:  # one line per problem: file, key path, reason
            raise from_validation_error(error, cls, where=str(path)) from None

    def priority(self) -> list[str]:
        """Source names, most trusted first."""
        names = [s.name for s in self.sources]
        ranked = list(self.dedup.source_priority or [])
        return ranked + [n for n in names if n not in ranked]

    def fingerprint(self) -> str:
        """Hash of everything that changes the output (not the worker count)."""
        data = self.model_dump(mode="json")
        data["executor"] = {"tasks": self.executor.tasks}  # tasks shape the shards; workers do not
        data.pop("synthesize", None)  # synthesis runs after the report, keyed by its own hash
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def _resolve(entry: dict, key: str, base: Path) -> None:
    """Make a relative path in a YAML file relative to the YAML file's folder (each one, for a list)."""
    if not isinstance(entry, dict) or key not in entry or entry.get("format") == "hf_hub":
        return
    value = entry[key]  # a list: dedup.against: [runs/a/curate, runs/b/curate]
    entry[key] = (
        [_relative_to(v, base) for v in value] if isinstance(value, list) else _relative_to(value, base)
    )


def _relative_to(value, base: Path):
    if not isinstance(value, str) or Path(value).is_absolute() or not (base / value.split("*")[0]).exists():
        return value
    return str(base / value)
