"""A deterministic multi-domain demo corpus built from what every Python install has.

- **general**: prose from standard-library module, class and function docstrings.
- **code**: top-level functions and classes of standard-library source files.
- **math**: generated grade-school word problems with worked, step-by-step solutions (GSM8K style,
  ending in ``#### <answer>``).
- **math_instruct** (opt-in, ``instruction=True``): the same kind of problems as prompt/response
  pairs, an instruction source (curation/demo_instruct.py).

Known defects are planted and recorded in ``ground_truth.json`` so curation can be checked:
exact duplicates (verbatim and whitespace/case variants), near-duplicates at controlled word
5-gram Jaccard similarity, boilerplate / spam / too-short documents, and verbatim copies of
held-out evaluation items (``evalsets/``) for decontamination.

The same ``seed`` and ``scale`` on the same Python version give byte-identical files.
"""

from __future__ import annotations

import ast
import json
import os
import random
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from curation.demo_math import make_code_task, make_word_problem

DOMAINS = ("general", "code", "math")
# Stdlib folders that are tests, vendored or generated code: not representative prose/code.
_SKIPPED_DIRS = {
    "test",
    "tests",
    "idlelib",
    "lib2to3",
    "site-packages",
    "turtledemo",
    "ensurepip",
    "pydoc_data",
    "encodings",
    "__pycache__",
    "tkinter",
    "distutils",
}
NEAR_DUP_JACCARDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
SHINGLE_WORDS = 5


@dataclass
class DemoCorpus:
    """Where the demo corpus was written and what was planted in it."""

    root: Path
    sources: dict[str, Path]  # source name (the domain, or math_instruct) -> raw jsonl file
    evalsets: dict[str, Path]  # "gsm8k_like" / "humaneval_like" -> jsonl file
    ground_truth_path: Path
    num_docs: dict[str, int] = field(default_factory=dict)

    def ground_truth(self) -> dict:
        return json.loads(self.ground_truth_path.read_text())


def build_demo_corpus(
    out_dir: str | Path, *, scale: float = 1.0, seed: int = 0, instruction: bool = False
) -> DemoCorpus:
    """Write the demo corpus under ``out_dir`` (``raw/``, ``evalsets/``, ``ground_truth.json``).

    ``scale`` multiplies the number of documents per domain (1.0 gives ~3 MB). ``instruction``
    also writes ``raw/math_instruct.jsonl`` (prompt/response records; the other files are unchanged).
    """
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    out_dir = Path(out_dir)
    rng = random.Random(seed)
    num = {"general": int(1200 * scale), "code": int(1000 * scale), "math": int(1500 * scale)}
    docs = {
        "general": _docstring_documents(num["general"], rng),
        "code": _code_documents(num["code"], rng),
        "math": [make_word_problem_document(rng) for _ in range(num["math"])],
    }
    evalsets = {
        "gsm8k_like": [
            make_word_problem(random.Random(f"eval-{seed}-{i}"), heldout=True)
            for i in range(max(8, int(40 * scale)))
        ],
        "humaneval_like": [make_code_task(i) for i in range(16)],
    }
    truth: dict = {
        "seed": seed,
        "scale": scale,
        "exact_duplicates": [],
        "near_duplicates": [],
        "junk": [],
        "contaminated": [],
    }
    _plant_contamination(docs, evalsets, rng, truth)
    _plant_exact_duplicates(docs, rng, truth, per_domain=max(3, int(15 * scale)))
    _plant_near_duplicates(docs, rng, truth, per_level=max(2, int(6 * scale)))
    _plant_junk(docs, rng, truth, count=max(6, int(30 * scale)))

    sources: dict[str, Path] = {}
    for domain, domain_docs in docs.items():
        rows = [{"id": doc_id, "text": text} for doc_id, text in domain_docs]
        rng.shuffle(rows)  # planted copies must not sit next to their originals
        sources[domain] = _write_jsonl(out_dir / "raw" / f"{domain}.jsonl", rows)
    num_docs = {d: len(v) for d, v in docs.items()}
    if instruction:
        from curation.demo_instruct import SOURCE, instruction_records, plant_contamination

        records = instruction_records(int(600 * scale), seed)
        plant_contamination(records, evalsets["gsm8k_like"], truth, seed)
        sources[SOURCE] = _write_jsonl(out_dir / "raw" / f"{SOURCE}.jsonl", records)
        num_docs[SOURCE] = len(records)
    eval_paths = {
        name: _write_jsonl(out_dir / "evalsets" / f"{name}.jsonl", items) for name, items in evalsets.items()
    }
    truth_path = out_dir / "ground_truth.json"
    _atomic_write_text(truth_path, json.dumps(truth, indent=1))
    return DemoCorpus(
        root=out_dir,
        sources=sources,
        evalsets=eval_paths,
        ground_truth_path=truth_path,
        num_docs=num_docs,
    )


# --- domains --------------------------------------------------------------------------------------


def _stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS)
        files.extend(Path(dirpath) / f for f in sorted(filenames) if f.endswith(".py"))
    return files


def _module_name(path: Path) -> str:
    """``email.mime.text`` for .../email/mime/text.py: unique where file stems are not."""
    relative = path.relative_to(sysconfig.get_paths()["stdlib"]).with_suffix("")
    return ".".join(relative.parts)


def _parsed_stdlib(rng: random.Random):
    files = _stdlib_files()
    rng.shuffle(files)
    for path in files:
        try:
            source = path.read_text(encoding="utf-8")
            yield path, source, ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue


def _docstring_documents(num_docs: int, rng: random.Random) -> list[tuple[str, str]]:
    """Group docstrings of one module into prose documents of a few paragraphs."""
    documents: list[tuple[str, str]] = []
    for path, _source, tree in _parsed_stdlib(rng):
        paragraphs = []
        for node in [tree, *ast.walk(tree)]:
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                text = ast.get_docstring(node)
                if text and len(text.split()) >= 20:
                    paragraphs.append(" ".join(text.split()))
        for start in range(0, len(paragraphs), 3):
            body = "\n\n".join(dict.fromkeys(paragraphs[start : start + 3]))
            if len(body.split()) >= 50:
                documents.append((f"general-{_module_name(path)}-{start}", body))
        if len(documents) >= num_docs:
            break
    return documents[:num_docs]


def _code_documents(num_docs: int, rng: random.Random) -> list[tuple[str, str]]:
    """Top-level functions and classes, 15-120 lines each, as code documents."""
    documents: list[tuple[str, str]] = []
    for path, source, tree in _parsed_stdlib(rng):
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and 15 <= node.end_lineno - node.lineno < 120:
                segment = ast.get_source_segment(source, node)
                if segment:
                    documents.append((f"code-{_module_name(path)}-{node.lineno}-{node.name}", segment))
        if len(documents) >= num_docs:
            break
    return documents[:num_docs]


def make_word_problem_document(rng: random.Random) -> tuple[str, str]:
    problems = [make_word_problem(rng) for _ in range(rng.randint(2, 4))]
    text = "\n\n".join(f"Question: {p['question']}\nAnswer: {p['answer']}" for p in problems)
    return f"math-{rng.getrandbits(48):012x}", text


# --- planted defects ------------------------------------------------------------------------------


def _plant_contamination(docs, evalsets, rng, truth) -> None:
    """Paste a few held-out evaluation items verbatim into training documents."""
    for name, domain, count in (("gsm8k_like", "math", 5), ("humaneval_like", "code", 3)):
        for item_index in rng.sample(range(len(evalsets[name])), count):
            item = evalsets[name][item_index]
            if name == "gsm8k_like":
                text = f"Question: {item['question']}\nAnswer: {item['answer']}"
            else:
                text = item["prompt"] + item["canonical_solution"]
            host_index = rng.randrange(len(docs[domain]))
            host_id, host_text = docs[domain][host_index]
            docs[domain][host_index] = (host_id, f"{host_text}\n\n{text}")
            truth["contaminated"].append({"evalset": name, "item": item_index, "doc_id": host_id})


def _plant_exact_duplicates(docs, rng, truth, *, per_domain: int) -> None:
    for domain, domain_docs in docs.items():
        for k, (doc_id, text) in enumerate(rng.sample(domain_docs, per_domain)):
            variant = text if k % 2 == 0 else "  " + text.replace("\n", " \n").upper() + "\n"
            copy_id = f"{doc_id}-exactdup{k}"
            domain_docs.append((copy_id, variant))
            truth["exact_duplicates"].append(
                {"original": doc_id, "copy": copy_id, "domain": domain, "normalised_only": k % 2 == 1}
            )


def _plant_near_duplicates(docs, rng, truth, *, per_level: int) -> None:
    """Copies whose word 5-gram Jaccard with the original is close to each target level."""
    vocabulary = sorted({w for _, t in docs["general"][:200] for w in t.split()})
    for domain in ("general", "math"):
        candidates = [d for d in docs[domain] if len(d[1].split()) >= 150]
        for target in NEAR_DUP_JACCARDS:
            for k, (doc_id, text) in enumerate(rng.sample(candidates, per_level)):
                variant, jaccard = _perturb_to_jaccard(text, target, vocabulary, rng)
                copy_id = f"{doc_id}-near{int(target * 100)}-{k}"
                docs[domain].append((copy_id, variant))
                truth["near_duplicates"].append(
                    {
                        "original": doc_id,
                        "copy": copy_id,
                        "domain": domain,
                        "target_jaccard": target,
                        "jaccard": round(jaccard, 4),
                    }
                )


def _perturb_to_jaccard(text: str, target: float, vocabulary: list[str], rng: random.Random):
    # Replacing a fraction p of words keeps a 5-gram with probability q = (1-p)^5 and the
    # shingle-set Jaccard is about q / (2 - q); solve for p.
    keep = 2 * target / (1 + target)
    p = 1 - keep ** (1 / SHINGLE_WORDS)
    words = text.split(" ")
    replaced = [rng.choice(vocabulary) if rng.random() < p else w for w in words]
    variant = " ".join(replaced)
    return variant, word_shingle_jaccard(text, variant)


def word_shingle_jaccard(a: str, b: str, n: int = SHINGLE_WORDS) -> float:
    def shingles(text: str) -> set[tuple[str, ...]]:
        words = text.lower().split()
        return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}

    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / max(1, len(sa | sb))


_BOILERPLATE = (
    "Home | About us | Contact | Privacy policy | Terms of use\n" * 6
    + "We use cookies to improve your experience. Accept all cookies.\n" * 4
)
_SPAM = "BUY NOW!!! Cheap watches cheap watches cheap watches best price click here!!! " * 12
_SHORT = ("Click here.", "Read more", "Page 2 of 7", "Subscribe!", "Loading...")


def _plant_junk(docs, rng, truth, *, count: int) -> None:
    kinds = ("boilerplate", "spam", "too_short")
    for k in range(count):
        kind = kinds[k % 3]
        text = {"boilerplate": _BOILERPLATE, "spam": _SPAM, "too_short": rng.choice(_SHORT)}[kind]
        domain = rng.choice(("general", "general", "math"))
        doc_id = f"junk-{kind}-{k}"
        docs[domain].append((doc_id, text + ("" if kind == "too_short" else f" ref {k}")))
        truth["junk"].append({"doc_id": doc_id, "kind": kind, "domain": domain})


# --- writing --------------------------------------------------------------------------------------


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    _atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def _atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary name, then rename: an interrupted build leaves no half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
