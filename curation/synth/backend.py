"""Backends behind datatrove's ``InferenceRunner``: local (``custom`` server), vllm, sglang, endpoint.

``inference_config`` maps a ``BackendConfig`` to datatrove's ``InferenceConfig``;
``check_backend`` fails before any work starts when the backend cannot run (package missing,
model folder missing, endpoint not answering). ``SynthRunner`` is the runner made safe to call
more than once on one object: the checkpoint manager and request cache are rebuilt per call
(datatrove's keep the previous task's chunk index), and the ``custom`` server gets a copy of
``model_kwargs`` (datatrove deletes ``server_script`` from the dict it is given). datatrove's own
executors copy the pipeline per task (deepcopy or pickling), so this is defensive, for code that
calls ``run`` on one step twice. A task that reads no documents (more tasks than shards) returns
before starting a server: for a local model that start is most of a small run.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import os
from pathlib import Path

from datatrove.pipeline.inference.checkpointing import CheckpointManager, RequestCache
from datatrove.pipeline.inference.run_inference import InferenceConfig, InferenceRunner
from datatrove.pipeline.inference.servers import CustomServer

from curation.synth.config import BackendConfig, GenerationConfig

SERVER_SCRIPT = str(Path(__file__).with_name("local_server.py"))


def inference_config(
    backend: BackendConfig, generation: GenerationConfig, *, count_file: str | None = None
) -> InferenceConfig:
    params = {
        "max_tokens": generation.max_new_tokens,
        "temperature": generation.temperature,
        "top_p": generation.top_p,
        "seed": generation.seed,
    }
    common = dict(
        model_name_or_path=backend.model,
        model_max_context=backend.max_context,
        use_chat=backend.chat,
        default_generation_params=params,
        max_concurrent_generations=backend.max_concurrent,
        server_start_timeout_sec=backend.start_timeout_s,
        metric_interval=600,
    )
    if backend.kind == "local":
        kwargs = {
            "server_script": SERVER_SCRIPT,
            "model": backend.model,
            "batch_size": backend.batch_size,
            "device": backend.device,
            "threads": backend.threads,
            "max_context": backend.max_context,
        }
        if count_file:
            kwargs["count_file"] = count_file
        return InferenceConfig(
            server_type="custom",
            model_kwargs=kwargs,
            server_ready_delay_sec=0.5,
            server_ready_max_attempts=int(backend.start_timeout_s / 0.5),
            **common,
        )
    if backend.kind == "endpoint":
        return InferenceConfig(
            server_type="endpoint",
            endpoint_url=datatrove_endpoint_url(backend.endpoint_url),
            api_key=os.environ.get(backend.api_key_env) if backend.api_key_env else None,
            request_timeout=backend.request_timeout_s,
            server_ready_delay_sec=1.0,
            server_ready_max_attempts=10,
            **common,
        )
    return InferenceConfig(
        server_type=backend.kind,
        tp=backend.tp,
        dp=backend.dp,
        model_kwargs=dict(backend.server_args) or None,
        server_ready_delay_sec=5.0,
        server_ready_max_attempts=max(1, int(backend.start_timeout_s / 5.0)),
        **common,
    )


def _is_local_http(url: str) -> bool:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    return parsed.scheme == "http" and parsed.hostname in ("localhost", "127.0.0.1", "::1")


def datatrove_endpoint_url(url: str) -> str:
    """The URL as datatrove 0.10 wants it: for a local http server it appends ``/v1/...`` itself
    (so a trailing ``/v1`` is dropped), elsewhere the OpenAI client's base URL (with ``/v1``)."""
    url = url.rstrip("/")
    return url.removesuffix("/v1") if _is_local_http(url) else url


def check_backend(backend: BackendConfig, *, where: str = "synthesize.backend") -> None:
    """Raise a one-line error when the backend cannot run; nothing is started."""
    if backend.kind in ("vllm", "sglang"):
        if importlib.util.find_spec(backend.kind) is None:
            raise ValueError(
                f"{where}.kind: {backend.kind} is not installed (pip install {backend.kind}; it needs a "
                "GPU); use kind: local for a CPU run or kind: endpoint for a running server"
            )
    elif backend.kind == "local":
        if backend.model.startswith("rule:"):
            if backend.model not in ("rule:echo", "rule:edu_grade"):
                raise ValueError(
                    f"{where}.model: unknown rule backend {backend.model!r}; known: rule:echo, rule:edu_grade"
                )
            return
        folder = Path(backend.model)
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(
                f"{where}.model: {folder} is not a save_pretrained folder (no config.json); the local "
                "backend never downloads"
            )
        if not any((folder / n).is_file() for n in ("tokenizer.json", "tokenizer_config.json")):
            raise FileNotFoundError(f"{where}.model: {folder} has no tokenizer (tokenizer.json)")
    elif backend.kind == "endpoint":
        import httpx

        base = backend.endpoint_url.rstrip("/")
        url = (base.removesuffix("/v1") + "/v1" if _is_local_http(base) else base) + "/models"
        headers = {}
        if backend.api_key_env:
            key = os.environ.get(backend.api_key_env)
            if not key:
                raise ValueError(
                    f"{where}.api_key_env: environment variable {backend.api_key_env} is not set"
                )
            headers["Authorization"] = f"Bearer {key}"
        try:
            response = httpx.get(url, timeout=10.0, headers=headers)
        except httpx.HTTPError as error:
            raise ValueError(f"{where}.endpoint_url: {url} is not reachable ({error})") from None
        if response.status_code != 200:
            raise ValueError(f"{where}.endpoint_url: GET {url} answered {response.status_code}")


class SynthRunner(InferenceRunner):
    """datatrove's ``InferenceRunner``, safe to ``run`` more than once on the same object."""

    def __init__(
        self, *args, checkpoints_local_dir: str | None = None, records_per_chunk: int = 6000, **kwargs
    ):
        super().__init__(
            *args, checkpoints_local_dir=checkpoints_local_dir, records_per_chunk=records_per_chunk, **kwargs
        )
        self._checkpoints_local_dir = checkpoints_local_dir
        self._records_per_chunk = records_per_chunk

    def _init_server(self, rank: int):
        if self.config.server_type == "custom":
            config = dataclasses.replace(self.config, model_kwargs=dict(self.config.model_kwargs or {}))
            return CustomServer(config, rank)
        return super()._init_server(rank)

    def run(self, data, rank: int = 0, world_size: int = 1):
        data = iter(data if data is not None else ())
        first = next(data, None)
        if first is None:  # a task without documents (fewer shards than tasks) starts no server
            self.stat_update("tasks_without_documents")
            return None
        data = itertools.chain([first], data)
        self.request_cache = RequestCache(self._checkpoints_local_dir)
        self.checkpoint_manager = CheckpointManager(
            self._checkpoints_local_dir, self._records_per_chunk, request_cache=self.request_cache
        )
        return super().run(data, rank, world_size)
