"""Curation config errors as one line per problem: the file, the key path and the reason.

pydantic's own text starts with "1 validation error for CurationConfig"; a user needs
``curate.yaml: sources.0.text_key: Input should be a valid string (got 3)`` and, for a typo,
``curate.yaml: filters.bogus: unknown key; valid keys: ...``. ``ConfigError`` is a ``ValueError``
whose first line is the first problem (what ``midtrain``'s error printer shows) and whose
``lines`` hold them all (what ``midtrain curate`` prints). recipes/ formats its own errors; curation
does not import it.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

_UNION_TAG = re.compile(r"^(str|int|float|bool|none|dict|list|[a-z-]+\[.*\])$")


class ConfigError(ValueError):
    """Invalid config: ``lines`` is one ``where: key.path: reason`` per problem."""

    fix = "correct the keys named above and run again"

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


def load_yaml_mapping(path: Path) -> dict:
    """The YAML file as a dict; ``ConfigError`` naming the file and line when it is not one."""
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError([f"{where}: not valid YAML: {problem}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError(
            [f"{path}: a curation config must be a mapping (sources:, filters:, ...), got {kind}"]
        )
    return data


def from_validation_error(error: ValidationError, model: type[BaseModel], *, where: str) -> ConfigError:
    """One line per pydantic error, with the key path inside the config file."""
    lines: list[str] = []
    for item in error.errors():
        loc = [p for p in item["loc"] if not (isinstance(p, str) and _UNION_TAG.match(p))]
        path = ".".join(str(p) for p in loc)
        message = item["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if item["type"] == "extra_forbidden":
            valid = _field_names(model, loc[:-1])
            message = "unknown key" + (f"; valid keys: {', '.join(valid)}" if valid else "")
        elif item["type"] == "missing":
            message = "required key missing"
        else:
            got = item.get("input")
            if not isinstance(got, dict | list) and got is not None:
                message += f" (got {got!r})"
        line = f"{where}: {path}: {message}" if path else f"{where}: {message}"
        if line not in lines:
            lines.append(line)
    return ConfigError(lines)


def validate_model(model: type[BaseModel], data: dict, *, where: str) -> BaseModel:
    """``model.model_validate(data)``, with a ``ConfigError`` (one line per problem) when invalid."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise from_validation_error(error, model, where=where) from None


def _field_names(model: type[BaseModel], loc: list) -> list[str]:
    """Field names of the model found at ``loc`` under ``model`` ([] when not a model)."""
    current: typing.Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: typing.Any) -> typing.Any:
    """``X | None`` -> ``X`` (the first model member of a union)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
        return (models or members or [annotation])[0]
    return annotation


def _step(current: typing.Any, part: str | int) -> typing.Any:
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        field = current.model_fields.get(part) if isinstance(part, str) else None
        return field.annotation if field is not None else None
    origin, args = typing.get_origin(current), typing.get_args(current)
    if origin in (list, tuple) and isinstance(part, int) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None
