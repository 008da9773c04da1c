"""``SourceConfig.text_template``: a document built from several record fields.

The template uses Python format syntax with plain field names (``"Question: {question}\\nAnswer:
{answer}"``; ``{{`` and ``}}`` are literal braces; a format spec such as ``{score:.2f}`` is
allowed). A record without one of the fields, or with the field null, is not rendered: the reader
counts it as ``missing_template_field`` and names the field.
"""

from __future__ import annotations

import string


def template_fields(template: str) -> list[str]:
    """Field names in order of first use (``{a} {b} {a}`` -> ``['a', 'b']``)."""
    names: list[str] = []
    for _, name, _, _ in string.Formatter().parse(template):
        if name is not None and name not in names:
            names.append(name)
    return names


def check_template(template: str) -> None:
    """ValueError naming the problem: bad braces, no field, positional or dotted fields."""
    try:
        names = template_fields(template)
    except ValueError as error:
        raise ValueError(
            f"text_template {template!r}: {error}; write literal braces as {{{{ and }}}}"
        ) from None
    if not names:
        raise ValueError(f"text_template {template!r} names no field; write fields as {{key}}")
    bad = [n for n in names if not n or n.isdigit() or not _plain_key(n)]
    if bad:
        raise ValueError(
            f"text_template {template!r}: field {bad[0]!r} must be a record key name "
            "(no positional {}, no attribute or index access)"
        )


def _plain_key(name: str) -> bool:
    return not any(ch in name for ch in ".[]")


def render(template: str, fields: list[str], data: dict) -> tuple[str | None, str | None]:
    """``(text, None)``, or ``(None, missing field name)`` when a field is absent or null."""
    for name in fields:
        if data.get(name) is None:
            return None, name
    return template.format_map({name: data[name] for name in fields}), None
