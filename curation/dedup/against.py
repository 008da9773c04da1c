"""``dedup.against``: check the previous runs' indexes and hand them to the dedup stages.

The index format, and why only kept documents are in it, is in ``index.py``. Here: every listed
index is validated against this run's settings (one-line errors naming ``dedup.against`` or
``dedup.against[i]``, the path and the fix), stamped into the run's work hash, and, for MinHash,
joined into the one ``index_folder`` datatrove's ``MinhashDedupBuckets`` reads.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from curation.dedup.index import FORMAT, INDEX_DIR, VERSION, index_settings
from curation.link_tree import link_tree


def _fmt(settings: dict, keys: list[str]) -> str:
    return ", ".join(
        f"{k}={settings.get(k)!r}" if isinstance(settings.get(k), str) else f"{k}={settings.get(k)}"
        for k in keys
    )


def against_key(config, i: int) -> str:
    """The key an error names: ``dedup.against`` for the one-path form, ``dedup.against[i]`` in a list."""
    return "dedup.against" if isinstance(config.dedup.against, str) else f"dedup.against[{i}]"


def check_against(config, out_dir: Path | None = None) -> list[dict]:
    """Validate every ``dedup.against`` corpus; their manifests (with ``root``), in the listed order.

    Each listed index is checked against this run's settings (so they also agree with each other);
    an error is one line naming the key (``dedup.against[i]`` in a list), the path and the fix.
    """
    dd = config.dedup
    if not (dd.exact or dd.minhash):
        raise ValueError("dedup.against: needs dedup.exact or dedup.minhash on (both are off)")
    seen: dict[Path, str] = {}
    manifests = []
    for i, path in enumerate(dd.against_paths()):
        key, root = against_key(config, i), Path(path).resolve()
        if root in seen:
            raise ValueError(f"{key}: {root} is listed twice (also {seen[root]}); list each corpus once")
        seen[root] = key
        manifests.append(_check_one(config, key, root, out_dir))
    return manifests


def _check_one(config, key: str, root: Path, out_dir: Path | None) -> dict:
    dd = config.dedup
    if out_dir is not None and root == Path(out_dir).resolve():
        raise ValueError(
            f"{key}: {root} is this run's own output folder; point it at a previous run's output "
            "folder, or curate into another folder"
        )
    manifest_path = root / INDEX_DIR / "manifest.json"
    if not manifest_path.is_file():
        why = "no such folder" if not root.is_dir() else f"no {INDEX_DIR}/manifest.json in it"
        raise FileNotFoundError(
            f"{key}: {root}: {why}; point it at a finished `midtrain curate` output folder "
            "(runs with dedup on save dedup_index/ there), or curate that corpus again to create one"
        )
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ValueError(
            f"{key}: {manifest_path} is {manifest.get('format')} version {manifest.get('version')}, "
            f"this midtrain reads {FORMAT} version {VERSION}; curate that corpus again"
        )
    old, new = manifest["settings"], index_settings(config)
    if dd.minhash and not old["minhash"]:
        raise ValueError(
            f"{key}: {root} was curated with dedup.minhash: false (no MinHash index); set "
            "dedup.minhash: false here to dedup against its exact hashes only, or curate it again with MinHash"
        )
    keys = [k for k in new if k != "minhash" and (dd.minhash or k == "exact_hash")]
    differ = [k for k in keys if old.get(k) != new.get(k)]
    if differ:
        raise ValueError(
            f"{key}: {root} was indexed with {_fmt(old, differ)} but this run has {_fmt(new, differ)}; "
            "use that run's dedup settings here, or curate it again with these"
        )
    if dd.minhash:
        for b in range(new["num_buckets"]):
            expected = (
                root / INDEX_DIR / "minhash" / f"bucket_{b:03d}" / f"{manifest['work_hash']}.minhash.index"
            )
            if not expected.is_file() or len(list(expected.parent.iterdir())) != 1:
                raise FileNotFoundError(
                    f"{key}: {root / INDEX_DIR} is incomplete ({expected.parent.name} should hold only "
                    f"{expected.name}): the run that wrote it did not finish; run it again to completion"
                )
    if dd.exact and not (root / INDEX_DIR / "exact.npy").is_file():
        raise FileNotFoundError(
            f"{key}: {root / INDEX_DIR / 'exact.npy'} is missing: the run that wrote it did not "
            "finish; run it again to completion"
        )
    return {**manifest, "root": str(root)}


def against_fingerprint(config) -> list:
    """What a resumed run must notice: each old index's manifest (rewritten when it is re-curated).

    The one-path form keeps its flat ``[path, size, mtime]``, so its runs' work hashes stay as they were.
    """
    stamps = []
    for path in config.dedup.against_paths():
        manifest = Path(path) / INDEX_DIR / "manifest.json"
        st = manifest.stat() if manifest.is_file() else None
        stamps.append([str(manifest), st.st_size if st else 0, int(st.st_mtime_ns) if st else 0])
    return stamps[0] if isinstance(config.dedup.against, str) else stamps


def against_bands(manifests: list[dict], work: Path, num_buckets: int) -> str:
    """The ``index_folder`` for datatrove's ``MinhashDedupBuckets``: every listed corpus's bands.

    It takes one folder and reads every file under its ``bucket_XXX/`` (``list_files`` is
    recursive), so one corpus is read in place and several are joined as a tree of links (copies
    across filesystems) under the work folder: ``bucket_XXX/<i>/<work hash>.minhash.index``. The
    old folders are only read; the links are this run's.
    """
    if len(manifests) == 1:
        return str(Path(manifests[0]["root"]) / INDEX_DIR / "minhash")
    folder = work / "dedup" / "against_index"
    shutil.rmtree(folder, ignore_errors=True)
    for b in range(num_buckets):
        for i, manifest in enumerate(manifests):
            band = Path(manifest["root"]) / INDEX_DIR / "minhash" / f"bucket_{b:03d}"
            link_tree(band, folder / f"bucket_{b:03d}" / f"{i:02d}")
    return str(folder)
