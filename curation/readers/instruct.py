"""``SourceConfig.instruction``: records that are a chat or a prompt/response pair, kept whole.

An instruction record is checked and turned into two things:

* ``metadata["instruction"]``: the conversation exactly as read (``{"messages": [...]}`` with every
  turn's keys, or ``{"prompt": str, "response": str}``), so tokenization can render it with the
  tokenizer's chat template and mask the loss (training/tokenize/instruct.py). No step edits it;
* the document ``text``: the turns' contents joined by blank lines. Filters, dedup,
  decontamination, token estimates and held-out loss judge this text, so a benchmark question
  copied into a prompt is caught like one inside a web page.

A record that is not a usable conversation is a counted reject (``rejects/``, with file and line)
naming the key: ``missing_instruction_key``, ``bad_conversation`` (not a list of
``{role, content}`` turns, a content that is not a string), ``unknown_role`` (outside system,
user, assistant) or ``no_response`` (no non-empty assistant turn: the loss mask would leave
nothing to train on). Preflight runs the same check on the first record of each file, as an
error, before any work starts.
"""

from __future__ import annotations

from typing import Any

from curation.config import InstructionConfig

ROLES = ("system", "user", "assistant")


class InstructionError(ValueError):
    """A record that is not a usable conversation; ``reason`` is its reject reason."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def conversation_of(data: dict[str, Any], spec: InstructionConfig) -> dict[str, Any]:
    """The record's conversation as stored in ``metadata["instruction"]``, or InstructionError."""
    missing = [key for key in spec.record_keys() if data.get(key) is None]
    if missing:
        keys = sorted(data)[:12]
        raise InstructionError(
            "missing_instruction_key",
            f"no key {missing[0]!r} (keys: {keys}); set instruction.{key_field(spec, missing[0])}",
        )
    if spec.format == "prompt_response":
        prompt, response = data[spec.prompt_key], data[spec.response_key]
        for key, value in ((spec.prompt_key, prompt), (spec.response_key, response)):
            if not isinstance(value, str):
                raise InstructionError(
                    "bad_conversation", f"{key!r} must be a string, got {type(value).__name__}"
                )
        if not response.strip():
            raise InstructionError("no_response", f"{spec.response_key!r} is empty: nothing to train on")
        return {"prompt": prompt, "response": response}
    messages = data[spec.messages_key]
    key = spec.messages_key
    if not isinstance(messages, list) or not messages:
        raise InstructionError("bad_conversation", f"{key!r} must be a non-empty list of {{role, content}}")
    for i, turn in enumerate(messages):
        if not isinstance(turn, dict):
            raise InstructionError("bad_conversation", f"{key}[{i}] must be a {{role, content}} object")
        if turn.get("role") not in ROLES:
            raise InstructionError(
                "unknown_role", f"{key}[{i}].role {turn.get('role')!r} is not one of {list(ROLES)}"
            )
        if not isinstance(turn.get("content"), str):
            raise InstructionError("bad_conversation", f"{key}[{i}].content must be a string")
    if not any(t["role"] == "assistant" and t["content"].strip() for t in messages):
        raise InstructionError(
            "no_response",
            f"{key!r} has no non-empty assistant turn: the loss mask would leave nothing to train on",
        )
    return {"messages": messages}


def judged_text(conversation: dict[str, Any]) -> str:
    """What the filters, dedup and decontamination see: the contents joined by blank lines."""
    if "messages" in conversation:
        return "\n\n".join(turn["content"] for turn in conversation["messages"])
    return f"{conversation['prompt']}\n\n{conversation['response']}"


def key_field(spec: InstructionConfig, key: str) -> str:
    if spec.format == "messages":
        return "messages_key"
    return "prompt_key" if key == spec.prompt_key else "response_key"
