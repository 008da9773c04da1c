"""A small OpenAI-compatible server for the CPU path: a transformers model, or a deterministic rule.

datatrove's ``custom`` server type starts ``python local_server.py --port N --key=value ...`` and
polls ``GET /v1/models`` until it answers, then posts to ``/v1/completions`` or
``/v1/chat/completions``. Requests arriving together are generated as one left-padded batch
(``--batch_size``, waiting at most ``--batch_wait_ms`` for a batch to fill), which is where the
throughput over a plain one-prompt-at-a-time ``generate`` loop comes from.

``--model rule:echo`` and ``--model rule:edu_grade`` are deterministic stand-ins for tests and
benchmarks of the pipeline (no torch import): ``echo`` returns the last ``max_tokens`` words of
the prompt; ``edu_grade`` grades the extract 0-5 by counting teaching words, in varied formats
so the grade parser is exercised. Prompts containing ``<<EMPTY>>`` get an empty answer,
``<<LONG>>`` a ``finish_reason: length``, and ``<<TOOLONG>>`` the HTTP 400 a prompt beyond the
context gets, for the reject paths.

``--count_file PATH`` (or the environment variable ``MIDTRAIN_SYNTH_COUNT_FILE``) appends one line
per successful generation, ``<batch start> <batch end>`` in Unix seconds (tests count regenerations,
the bench times generation without the server's start);
the environment variable ``MIDTRAIN_SYNTH_FAIL_AFTER=N`` makes the server answer 500 after N
generations (tests simulate a crash that kills the task).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EDU_WORDS = (
    "learn",
    "explain",
    "example",
    "definition",
    "theorem",
    "equation",
    "student",
    "because",
    "therefore",
    "science",
    "history",
    "solve",
)
_WORD = re.compile(r"[a-z]+")


def edu_rule_grade(text: str) -> int:
    """The fake grader's grade: distinct teaching words in the extract, capped at 5."""
    words = set(_WORD.findall(text.lower()))
    return min(5, sum(1 for w in EDU_WORDS if w in words or w + "s" in words))


def _extract(prompt: str) -> str:
    start = prompt.find("Extract:")
    end = prompt.rfind("After examining")
    return prompt[start + 8 : end] if start >= 0 and end > start else prompt


class RuleModel:
    """Deterministic 'models' for tests; same interface as ``HFModel``."""

    def __init__(self, name: str):
        if name not in ("echo", "edu_grade"):
            raise SystemExit(f"unknown rule model {name!r}; known: echo, edu_grade")
        self.name = name

    def check(self, prompt: str, params: dict) -> None:
        if "<<TOOLONG>>" in prompt:
            raise ValueError("prompt + max_tokens exceeds the context (rule backend: <<TOOLONG>>)")

    def generate(self, prompts: list[str], params: dict) -> list[tuple[str, str, int, int]]:
        out = []
        for prompt in prompts:
            words = prompt.split()
            max_tokens = int(params.get("max_tokens") or 64)
            if "<<EMPTY>>" in prompt:
                out.append(("", "stop", len(words), 0))
                continue
            if self.name == "echo":
                text_words = words[-max_tokens:]
                reason = "length" if "<<LONG>>" in prompt else "stop"
                out.append((" ".join(text_words), reason, len(words), len(text_words)))
            else:
                grade = edu_rule_grade(_extract(prompt))
                variant = sum(map(ord, prompt)) % 3
                text = (
                    f"The extract is examined. Educational score: {grade}",
                    f"Justification: it covers some material.\n**Score: {grade}/5**",
                    f"I would give this extract {grade} points out of 5.",
                )[variant]
                out.append((text, "stop", len(words), len(text.split())))
        return out


class HFModel:
    """A transformers causal LM; batches are left-padded and generated together."""

    def __init__(self, path: str, device: str, threads: int, max_context: int):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if threads > 0:
            torch.set_num_threads(threads)
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.convert_ids_to_tokens(0)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device).eval()
        self.device = device
        limit = getattr(self.model.config, "max_position_embeddings", max_context)
        self.max_context = min(max_context, limit)

    def chat_prompt(self, messages: list[dict]) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"

    def check(self, prompt: str, params: dict) -> None:
        """A prompt that cannot fit is refused on its own, not with the batch it arrived in."""
        num = len(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        max_new = int(params.get("max_tokens") or 64)
        if num + max_new > self.max_context:
            raise ValueError(
                f"prompt of {num} tokens + max_tokens {max_new} exceeds the context of {self.max_context} tokens"
            )

    def generate(self, prompts: list[str], params: dict) -> list[tuple[str, str, int, int]]:
        torch = self.torch
        max_new = int(params.get("max_tokens") or 64)
        temperature = float(params.get("temperature", 1.0) or 0.0)
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        torch.manual_seed(int(params.get("seed") or 0))
        kwargs = {"do_sample": temperature > 0, "max_new_tokens": max_new}
        if temperature > 0:
            kwargs.update(temperature=temperature, top_p=float(params.get("top_p", 1.0)))
        with torch.no_grad():
            out = self.model.generate(
                **{k: v.to(self.device) for k, v in enc.items()},
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id,
                **kwargs,
            )
        new = out[:, enc["input_ids"].shape[1] :].tolist()
        prompt_lens = enc["attention_mask"].sum(dim=1).tolist()
        eos = self.tokenizer.eos_token_id
        results = []
        for ids, prompt_len in zip(new, prompt_lens, strict=True):
            if eos is not None and eos in ids:
                ids, reason = ids[: ids.index(eos)], "stop"
            else:
                reason = "length" if len(ids) >= max_new else "stop"
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            results.append((text, reason, int(prompt_len), len(ids)))
        return results


class Batcher:
    """One generation thread; request threads enqueue and wait for their result."""

    def __init__(self, model, batch_size: int, wait_s: float, count_file: str | None):
        self.model, self.batch_size, self.wait_s = model, batch_size, wait_s
        self.count_file = count_file
        self.fail_after = int(os.environ.get("MIDTRAIN_SYNTH_FAIL_AFTER", "0") or 0)
        self.num_done = 0
        self.lock = threading.Lock()
        self.queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._loop, daemon=True).start()

    def submit(self, prompt: str, params: dict):
        slot = {"event": threading.Event(), "prompt": prompt, "params": params}
        self.queue.put(slot)
        slot["event"].wait()
        if "error" in slot:
            raise slot["error"]
        return slot["result"]

    def _loop(self) -> None:
        while True:
            batch = [self.queue.get()]
            deadline = time.monotonic() + self.wait_s
            while len(batch) < self.batch_size:
                try:
                    batch.append(self.queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            groups: dict[str, list[dict]] = {}
            for slot in batch:  # one generate call per set of sampling parameters
                groups.setdefault(json.dumps(slot["params"], sort_keys=True), []).append(slot)
            for slots in groups.values():
                failed: list[dict] = []
                if self.fail_after:  # the simulated crash: exactly fail_after generations succeed
                    room = max(0, self.fail_after - self.num_done)
                    slots, failed = slots[:room], slots[room:]
                self._generate(slots)
                for s in failed:  # answered after the others, as a server dying mid-run would
                    s["error"] = RuntimeError(f"simulated crash after {self.fail_after} generations")
                    s["event"].set()

    def _generate(self, slots: list[dict]) -> None:
        fits = []
        for s in slots:  # a prompt that cannot run gets its 400 alone; the rest of the batch runs
            try:
                self.model.check(s["prompt"], s["params"])
                fits.append(s)
            except ValueError as error:
                s["error"] = error
                s["event"].set()
        slots = fits
        if not slots:
            return
        started = time.time()
        try:
            results = self.model.generate([s["prompt"] for s in slots], slots[0]["params"])
        except Exception as error:  # the request threads answer 400 with the reason
            for s in slots:
                s["error"] = error
                s["event"].set()
            return
        with self.lock:
            self.num_done += len(slots)
            if self.count_file:
                with open(self.count_file, "a") as f:
                    f.write(f"{started:.4f} {time.time():.4f}\n" * len(slots))
        for s, r in zip(slots, results, strict=True):
            s["result"] = r
            s["event"].set()


def make_handler(batcher: Batcher, model, model_name: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 (http.server API)
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": model_name, "object": "model"}]})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self):  # noqa: N802
            chat = self.path.rstrip("/") == "/v1/chat/completions"
            if not chat and self.path.rstrip("/") != "/v1/completions":
                self._send(404, {"error": "not found"})
                return
            try:
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if chat:
                    messages = payload["messages"]
                    prompt = (
                        model.chat_prompt(messages)
                        if hasattr(model, "chat_prompt")
                        else "\n".join(m["content"] for m in messages)
                    )
                else:
                    prompt = payload["prompt"]
            except (KeyError, ValueError, TypeError) as error:
                self._send(400, {"error": f"BadRequestError: malformed request: {error}"})
                return
            params = {k: payload.get(k) for k in ("max_tokens", "temperature", "top_p", "seed")}
            try:
                text, reason, num_prompt, num_completion = batcher.submit(prompt, params)
            except ValueError as error:
                self._send(400, {"error": f"BadRequestError: {error}"})
                return
            except RuntimeError as error:
                self._send(500, {"error": str(error)})
                return
            choice = {"index": 0, "finish_reason": reason}
            choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
            usage = {
                "prompt_tokens": num_prompt,
                "completion_tokens": num_completion,
                "total_tokens": num_prompt + num_completion,
            }
            self._send(
                200, {"object": "text_completion", "model": model_name, "choices": [choice], "usage": usage}
            )

        def log_message(self, format, *args):  # quiet: one line per request is too much
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--model", required=True, help="save_pretrained folder, or rule:echo / rule:edu_grade"
    )
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--batch_wait_ms", type=float, default=20.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--max_context", type=int, default=4096)
    parser.add_argument("--count_file", default=None)
    args = parser.parse_args(argv)
    if args.model.startswith("rule:"):
        model = RuleModel(args.model.removeprefix("rule:"))
    else:
        model = HFModel(args.model, args.device, args.threads, args.max_context)
    count_file = args.count_file or os.environ.get("MIDTRAIN_SYNTH_COUNT_FILE") or None
    batcher = Batcher(model, args.batch_size, args.batch_wait_ms / 1000, count_file)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(batcher, model, args.model))
    server.daemon_threads = True
    print(f"Application startup complete: {args.model} on http://127.0.0.1:{args.port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
