"""``--set key.path=value`` overrides on a recipe, with values parsed as YAML scalars."""

from __future__ import annotations

import copy

import yaml


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Return a copy of ``raw`` with each ``a.b.c=value`` applied (creating missing mappings)."""
    result = copy.deepcopy(raw)
    for item in overrides:
        key_path, sep, text = item.partition("=")
        if not sep or not key_path.strip():
            raise ValueError(f"--set {item!r}: expected key.path=value")
        value = yaml.safe_load(text) if text.strip() else None
        node = result
        keys = key_path.strip().split(".")
        for depth, key in enumerate(keys[:-1]):
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                where = ".".join(keys[: depth + 1])
                raise ValueError(f"--set {item!r}: {where} is a {type(child).__name__}, not a mapping")
            node = child
        node[keys[-1]] = value
    return result
