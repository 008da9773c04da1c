"""Configuration of synthetic generation (``synthesize:`` in a curation config) and of grading.

``SynthesizeConfig`` holds a backend (where the generator runs), generation settings, and a list
of jobs; each job turns one curated source into a new source ``<source>.<task>`` (for rephrase
``<source>.rephrase_<style>``, for custom ``<source>.<prompt_id>``). ``GradeConfig`` (the
model-graded quality run) is in ``grade_config.py``, apart, so that loading a curation config does
not import the classifiers. Unknown keys are errors, and a prompt
template naming an unknown field fails here, before any work starts.
"""

from __future__ import annotations

import hashlib
import json
import string
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

TaskName = Literal["rephrase", "qa", "solve", "custom"]
RephraseStyle = Literal["wiki", "qa", "textbook"]
BackendKind = Literal["local", "vllm", "sglang", "endpoint"]
# Fields a prompt template may use; ``{text}`` is the (truncated) parent document.
PROMPT_FIELDS = ("text", "source", "domain", "id", "style")
GRADE_FIELDS = ("text", "source", "domain", "id")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def template_fields(template: str) -> list[str]:
    """The ``{field}`` names of a ``str.format`` template (ValueError when it does not parse)."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"prompt template does not parse: {error}") from None
    names = []
    for _, name, _, _ in parsed:
        if name is None:
            continue
        if name == "" or not name.isidentifier():
            raise ValueError(f"prompt template: fields must be named, like {{text}}; got {{{name}}}")
        names.append(name)
    return names


def check_template(template: str, allowed: tuple[str, ...]) -> str:
    unknown = sorted({n for n in template_fields(template) if n not in allowed})
    if unknown:
        raise ValueError(f"prompt template: unknown field(s) {unknown}; allowed fields are {list(allowed)}")
    if "text" not in template_fields(template):
        raise ValueError("prompt template: it must use {text} (the document)")
    return template


class BackendConfig(_Model):
    """Where generation runs; every kind goes through datatrove's ``InferenceRunner``."""

    kind: BackendKind = Field(
        "local",
        description="local: a transformers model on CPU (or one GPU) behind a small OpenAI-compatible "
        "server (datatrove's `custom` server type); vllm / sglang: datatrove starts that server (GPU, "
        "needs the package); endpoint: any OpenAI-compatible URL (datatrove's `endpoint`)",
    )
    model: str = Field(
        description="local: a folder written by save_pretrained (model + tokenizer), or `rule:<name>` for "
        "the deterministic test backends (rule:echo, rule:edu_grade); vllm/sglang: a local path or model "
        "name the server loads; endpoint: the model name sent in requests"
    )
    endpoint_url: str | None = Field(None, description="endpoint only: base URL, e.g. http://host:8000/v1")
    api_key_env: str | None = Field(
        None, description="endpoint only: name of the environment variable holding the API key"
    )
    use_chat: bool | None = Field(
        None,
        description="call /v1/chat/completions (True) or /v1/completions (False); default: False for "
        "local (tiny models have no chat template), True otherwise",
    )
    max_concurrent: int = Field(8, ge=1, description="requests in flight per task")
    batch_size: int = Field(8, ge=1, description="local only: requests generated together in one batch")
    device: str = Field("cpu", description="local only: torch device of the model")
    threads: int = Field(
        1,
        ge=0,
        description="local only: torch threads of the server (0: torch's default, one per core). 1 by "
        "default: datatrove runs one server per task, and on a loaded machine a multi-threaded torch "
        "generate was ~50x slower (measured); raise it for one big model on a dedicated machine",
    )
    tp: int = Field(1, ge=1, description="vllm/sglang: tensor-parallel GPUs")
    dp: int = Field(1, ge=1, description="vllm/sglang: data-parallel replicas")
    max_context: int = Field(4096, ge=64, description="context length in tokens (prompt + generation)")
    server_args: dict = Field(
        default_factory=dict, description="vllm/sglang: extra server flags (datatrove model_kwargs)"
    )
    start_timeout_s: float = Field(900.0, gt=0, description="seconds a server may take to become ready")
    request_timeout_s: float | None = Field(None, gt=0, description="endpoint: seconds per request")

    @model_validator(mode="after")
    def _check(self) -> BackendConfig:
        if self.kind == "endpoint" and not self.endpoint_url:
            raise ValueError("backend.endpoint_url: needed for kind: endpoint")
        if self.kind != "endpoint" and (self.endpoint_url or self.api_key_env):
            raise ValueError(
                f"backend.endpoint_url / api_key_env: only for kind: endpoint (kind is {self.kind})"
            )
        if self.model.startswith("rule:") and self.kind != "local":
            raise ValueError("backend.model: rule:<name> backends run with kind: local")
        return self

    @property
    def chat(self) -> bool:
        return self.use_chat if self.use_chat is not None else self.kind != "local"


class GenerationConfig(_Model):
    """Sampling settings sent with every request (OpenAI names)."""

    max_new_tokens: int = Field(512, ge=1, description="max_tokens of a generation")
    temperature: float = Field(0.7, ge=0.0, description="0: greedy")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="nucleus sampling mass")
    seed: int = Field(0, description="request seed (vLLM and the local server honour it)")


class SynthJob(_Model):
    """One generation job: a curated source, a task, and the prompt."""

    source: str = Field(description="a curated source (a name in `sources`)")
    task: TaskName = Field(description="rephrase | qa | solve | custom")
    style: RephraseStyle | None = Field(None, description="rephrase only: wiki (default), qa, textbook")
    prompt: str | None = Field(
        None,
        description=f"prompt template (str.format) with fields {list(PROMPT_FIELDS)}; required for custom, "
        "replaces the built-in prompt otherwise",
    )
    prompt_id: str | None = Field(
        None, description="custom: required, names the output source `<source>.<prompt_id>`"
    )
    max_docs: int | None = Field(None, ge=1, description="parent documents used (the first N per task)")
    domain: str | None = Field(None, description="domain of the outputs (default: the parent's)")
    backend: BackendConfig | None = Field(
        None,
        description="this job's own backend, replacing synthesize.backend (e.g. a math model for solve, "
        "or a rule backend for all jobs but one in a test)",
    )

    @model_validator(mode="after")
    def _check(self) -> SynthJob:
        if self.style is not None and self.task != "rephrase":
            raise ValueError(f"style: only for task rephrase (task is {self.task})")
        if self.task == "rephrase" and self.style is None:
            self.style = "wiki"
        if self.task == "custom" and (not self.prompt or not self.prompt_id):
            raise ValueError("task custom needs both prompt (a template) and prompt_id")
        if self.prompt_id is not None:
            from curation.config import _NAME_RE

            if not _NAME_RE.match(self.prompt_id):
                raise ValueError(f"prompt_id {self.prompt_id!r} must be folder-safe ([A-Za-z0-9_.-])")
        if self.prompt is not None:
            check_template(self.prompt, PROMPT_FIELDS)
        return self

    @property
    def task_id(self) -> str:
        if self.task == "rephrase":
            return f"rephrase_{self.style}"
        return self.prompt_id if self.task == "custom" else self.task

    @property
    def output_source(self) -> str:
        return f"{self.source}.{self.task_id}"


class SynthesizeConfig(_Model):
    """``synthesize:``: generate new sources from curated ones after dedup and decontamination."""

    backend: BackendConfig
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    jobs: list[SynthJob] = Field(min_length=1, description="what to generate, one output source each")
    records_per_chunk: int = Field(
        500, ge=1, description="documents per checkpoint chunk (a killed run redoes at most one chunk)"
    )
    max_input_chars: int = Field(6000, ge=1, description="parent text is cut to this many characters")
    min_output_chars: int = Field(20, ge=0, description="shorter generations are rejected (too_short)")
    keep_truncated: bool = Field(
        False, description="keep generations that hit max_new_tokens (finish_reason length)"
    )
    decontaminate: bool = Field(True, description="run outputs through decontamination again")

    @model_validator(mode="after")
    def _check(self) -> SynthesizeConfig:
        names = [j.output_source for j in self.jobs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"jobs: two jobs write the same output source(s) {dupes}")
        return self

    def job_backend(self, job: SynthJob) -> BackendConfig:
        """The backend a job runs on: its own, else the section's."""
        return job.backend or self.backend

    def check_sources(self, source_names: list[str]) -> None:
        """A job naming no curation source, or an output that collides with one, is an error."""
        for i, job in enumerate(self.jobs):
            if job.source not in source_names:
                raise ValueError(
                    f"synthesize.jobs.{i}.source: unknown source {job.source!r}; sources are {source_names}"
                )
            if job.output_source in source_names:
                raise ValueError(
                    f"synthesize.jobs.{i}: output source {job.output_source!r} is already a curation source"
                )

    def fingerprint(self) -> str:
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def __getattr__(name: str):
    if name == "GradeConfig":  # lives apart so that this module does not import the classifiers
        from curation.synth.grade_config import GradeConfig

        return GradeConfig
    raise AttributeError(name)
