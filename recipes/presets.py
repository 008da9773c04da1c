"""Published recipes shipped as YAML presets in ``recipes/presets/``.

A preset is named by its file stem (``midtrain run demo``) or given as a path.
"""

from __future__ import annotations

from pathlib import Path

PRESETS_DIR = Path(__file__).parent / "presets"


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def resolve_preset(name_or_path: str | Path) -> Path:
    """A path that exists, else a preset of that name, else a clear error listing the presets."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    preset = PRESETS_DIR / f"{path.stem if path.suffix in ('.yaml', '.yml') else name_or_path}.yaml"
    if preset.is_file() and not path.parent.parts:
        return preset
    raise FileNotFoundError(
        f"{name_or_path}: no such recipe file, and no preset of that name (presets: {', '.join(list_presets())})"
    )
