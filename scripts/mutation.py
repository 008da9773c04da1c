"""Mutation testing driver: mutmut 3 over midtrain's core modules, each with its own fast tests.

    python scripts/mutation.py [MODULE ...] [--max-children N] [--sample N --seed S] [--list]

For each module it makes a scratch copy of the repository under ``.mutation/<module>/`` (a
snapshot, so edits made in the working tree while it runs do not leak into a run, and mutmut's
``mutants/`` copy never lands in the working tree), writes a ``setup.cfg`` with the ``[mutmut]``
section for that module only (the files to mutate, the test files that cover them, ``-m "not
slow"``), runs ``mutmut run`` there and reads mutmut's per-mutant results back.

A surviving mutant that has been read and judged equivalent (it cannot change behaviour) is
listed in ``scripts/mutation_equivalent.txt`` (one mutmut mutant name per line, ``# why`` after
it); the score is killed / (mutants - equivalent). Results go to ``bench/mutation_results.json``
(merged per module, so modules can be run one at a time) and a table is printed.

Not part of CI: a module takes minutes, the set takes about an hour on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
RESULTS = ROOT / "bench" / "mutation_results.json"
EQUIVALENT = ROOT / "scripts" / "mutation_equivalent.txt"
PACKAGES = ["curation", "mixing", "training", "evaluation", "recipes"]

# Tests left out of a module's run, with why (a flaky test makes mutmut's clean run fail).
DESELECT: dict[str, list[str]] = {
    # e.g. "mixing": ["tests/mixing/test_mixing_greedy.py::test_name"], for a test that is flaky
}

# module -> (files mutated, fast test files that cover them). Each module is run with its own
# tests only; slow tests are deselected with -m "not slow" (a fast test covers each behaviour).
MODULES: dict[str, tuple[list[str], list[str]]] = {
    "mixing": (
        ["mixing/solve.py", "mixing/greedy.py", "mixing/apportion.py"],
        [
            "tests/mixing/test_mixing_arithmetic.py",
            "tests/mixing/test_mixing_errors.py",
            "tests/mixing/test_mixing_greedy.py",
            "tests/mixing/test_mixing_planner.py",
            "tests/mixing/test_mixing_properties.py",
            "tests/mixing/test_mixing_mutation_guards.py",
            "tests/mixing/test_mixing_solve_branches.py",
            "tests/mixing/test_mixing_greedy_branches.py",
        ],
    ),
    "dedup": (
        ["curation/dedup/cluster.py", "curation/dedup/filter.py"],
        [
            "tests/curation/test_curation_dedup.py",
            "tests/curation/test_curation_dedup_mutation_guards.py",
            "tests/curation/test_curation_dedup_against_units.py",
        ],
    ),
    "decont": (
        ["curation/decont/filter.py", "curation/decont/ngrams.py"],
        ["tests/curation/test_curation_decont.py", "tests/curation/test_curation_decont_mutation_guards.py"],
    ),
    "stats": (
        ["curation/stats/batched.py"],
        ["tests/curation/test_curation_stats_batched.py"],
    ),
    "eval_loss": (
        ["evaluation/loss.py"],
        ["tests/evaluation/test_eval_loss.py", "tests/evaluation/test_eval_loss_mutation_guards.py"],
    ),
    "recipes": (
        ["recipes/stages.py", "recipes/runner.py"],
        [
            "tests/recipes/test_recipes_stage_keys.py",
            "tests/recipes/test_recipes_runner.py",
            "tests/recipes/test_recipes_mutation_guards.py",
        ],
    ),
    "loader": (
        ["training/data/loader.py"],
        [
            "tests/training/test_training_loader.py",
            "tests/training/test_training_curriculum.py",  # documents sorted per window (_layout)
            "tests/training/test_training_packing.py",  # position_ids: sequence
            "tests/training/test_training_instruct.py",  # loss_mask: response (read_mask)
            "tests/training/test_training_loader_mutation_guards.py",
        ],
    ),
    "trainer": (
        ["training/trainer/loop.py", "training/trainer/checkpoint.py"],
        [
            "tests/training/test_training_trainer.py",
            "tests/training/test_training_checkpoint.py",
            "tests/training/test_training_loss_scaling_fast.py",
            "tests/training/test_training_checkpoint_async.py",
            "tests/training/test_training_trainer_mutation_guards.py",
        ],
    ),
}


def status_of(code: int | None) -> str:
    """mutmut's own reading of a mutant's exit code (killed, survived, timeout, segfault, ...)."""
    from mutmut.stats import status_by_exit_code

    return status_by_exit_code[code]


def load_equivalent() -> dict[str, str]:
    out: dict[str, str] = {}
    if EQUIVALENT.exists():
        for line in EQUIVALENT.read_text().splitlines():
            name, _, why = line.partition("#")
            if name.strip():
                out[name.strip()] = why.strip()
    return out


def snapshot(dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis")
    for name in [*PACKAGES, "tests"]:
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ["pyproject.toml", "README.md"]:
        shutil.copy2(ROOT / name, dest / name)


def write_config(dest: Path, module: str, files: list[str], tests: list[str]) -> None:
    tests = [t for t in tests if (ROOT / t).exists()]
    lines = ["[mutmut]", "source_paths ="]
    lines += [f"    {p}" for p in PACKAGES]
    lines += ["only_mutate ="] + [f"    {f}" for f in files]
    lines += ["pytest_add_cli_args_test_selection ="] + [f"    {t}" for t in tests]
    # -p no:cacheprovider keeps the run from writing into the real tree's cache
    lines += ["pytest_add_cli_args =", "    -m", "    not slow", "    -p", "    no:cacheprovider", "    -q"]
    lines += ["    --hypothesis-seed=0"]
    lines += [f"    --deselect={t}" for t in DESELECT.get(module, [])]
    # forkserver without warm-up: each worker imports the tests itself. Plain fork (from the process
    # that ran the stats pass), or a fork server warmed up by collecting the tests (which imports
    # polars and torch), leaves workers deadlocked in a futex (seen on the mixing and loader tests),
    # which mutmut reports as timeouts.
    lines += ["process_isolation = forkserver", "forkserver_warmup = none"]
    # A worker is cut after (its tests' time + 10 s) x 10 of wall time (twice that in CPU time). The
    # wall limit is generous because on a shared, niced machine a starved worker is slow, not
    # looping (mutmut's default, (t + 1) x 15, gave false timeouts at load 9 on two cores).
    lines += ["timeout_multiplier = 10.0", "timeout_constant = 10.0"]
    lines += ["use_git_change_detection = false", "track_dependencies = false", ""]
    (dest / "setup.cfg").write_text("\n".join(lines))


def read_results(dest: Path) -> dict[str, str]:
    """mutant name -> status, from mutmut's per-file .meta files."""
    out: dict[str, str] = {}
    for meta in (dest / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        for name, code in data.get("exit_code_by_key", {}).items():
            if code is not None:  # None: not run (not in the sample, or the run was stopped)
                out[name] = status_of(code)
    return out


def mutant_names(dest: Path) -> list[str]:
    names: list[str] = []
    for meta in (dest / "mutants").rglob("*.py.meta"):
        names += list(json.loads(meta.read_text()).get("exit_code_by_key", {}))
    return sorted(names)


def mutmut(dest: Path, *args: str, env: dict[str, str], quiet: bool = False) -> int:
    cmd = ["nice", "-n", "15", sys.executable, "-m", "mutmut", *args]
    out = subprocess.DEVNULL if quiet else None
    return subprocess.call(cmd, cwd=dest, env=env, stdout=out, stderr=out)


def run_module(module: str, max_children: int, sample: int | None, seed: int) -> dict:
    files, tests = MODULES[module]
    dest = WORK / module
    snapshot(dest)
    write_config(dest, module, files, tests)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env.update(POLARS_MAX_THREADS="1", TOKENIZERS_PARALLELISM="false")
    env.pop("PYTHONPATH", None)
    t0 = time.time()
    names: list[str] = []
    if sample:
        # generate the mutants only (an unknown mutant name runs nothing), then sample them
        mutmut(dest, "run", "--max-children", "1", "__no_such_mutant__", env=env, quiet=True)
        population = mutant_names(dest)
        names = sorted(random.Random(seed).sample(population, min(sample, len(population))))
    rc = mutmut(dest, "run", "--max-children", str(max_children), *names, env=env)
    status = read_results(dest)
    if names:
        status = {n: s for n, s in status.items() if n in set(names)}
    return summarise(module, status, time.time() - t0, rc, sample, seed)


def recheck_module(
    module: str, old: dict, max_children: int, full_stats: bool = False, only_tests: list[str] | None = None
) -> dict:
    """Run the module's not-killed mutants again against the current tests (new guards included).

    ``only_tests``: run them against these test files of the module only (the new guards), which
    skips collecting and re-running every other test of the module; a mutant killed by any of the
    module's tests is killed, so the verdict is the same, only cheaper to get.
    """
    files, tests = MODULES[module]
    if only_tests:
        unknown = [t for t in only_tests if t not in tests]
        if unknown:
            raise SystemExit(f"--tests: {unknown} not in module {module}'s tests (see --list)")
        tests = only_tests
    dest = WORK / module
    shutil.rmtree(dest / "tests")
    shutil.copytree(ROOT / "tests", dest / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    write_config(dest, module, files, tests)
    # Keep mutmut's stats (which tests reach which function): mutmut lists the tests, finds the new
    # ones and collects stats for those only (a full collection runs every test of the module, ten
    # minutes for the trainer on a loaded machine). A test that existed before and was changed to
    # reach other functions keeps its old map; --full-stats collects everything again.
    if full_stats:
        (dest / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    shutil.rmtree(dest / "mutants" / "tests", ignore_errors=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env.update(POLARS_MAX_THREADS="1", TOKENIZERS_PARALLELISM="false")
    # survivors, and timeouts too: a timeout on a loaded machine may be a starved worker
    names = [n for n in old["survivors"] if n in old["status"]]
    names += [n for n, st in old["status"].items() if st == "timeout"]
    t0 = time.time()
    rc = mutmut(dest, "run", "--max-children", str(max_children), *names, env=env) if names else 0
    fresh = read_results(dest)
    status = dict(old["status"])
    # With --tests a mutant the given files never reach comes back "no tests"; that says nothing
    # about the module's other tests, so it keeps its earlier verdict (survived, usually).
    skip = {"not checked", "no tests"} if only_tests else {"not checked"}
    status.update({n: fresh[n] for n in names if fresh.get(n) is not None and fresh[n] not in skip})
    row = summarise(module, status, old["seconds"], rc, old["sample"], old["seed"] or 0)
    # the first run's verdicts stay: its score (before tests written for this sample) is the estimate
    row["first_run_status"] = old.get("first_run_status") or old["status"]
    row["recheck_seconds"] = round(time.time() - t0)
    row["recheck_tests"] = [t for t in tests if (ROOT / t).exists()]
    return row


def summarise(module: str, status: dict[str, str], seconds: float, rc: int, sample, seed) -> dict:
    equivalent = load_equivalent()
    counts = {"killed": 0, "survived": 0, "timeout": 0, "equivalent": 0, "no tests": 0, "other": 0}
    survivors = []
    for name, s in sorted(status.items()):
        if (
            s in ("survived", "no tests") and name in equivalent
        ):  # equivalent whether or not a test reaches it
            counts["equivalent"] += 1
        elif s == "segfault":  # the test process died (SIGSEGV/SIGKILL): the mutant was noticed
            counts["killed"] += 1
        elif s in ("killed", "survived", "timeout", "no tests"):
            counts[s] += 1
            if s in ("survived", "no tests"):
                survivors.append(name)
        else:
            counts["other"] += 1
            survivors.append(name)
    judged = len(status) - counts["equivalent"]
    caught = counts["killed"] + counts["timeout"]
    return {
        "module": module,
        "files": MODULES[module][0],
        "tests": [t for t in MODULES[module][1] if (ROOT / t).exists()],
        "mutants": len(status),
        **counts,
        "score": round(caught / judged, 4) if judged else None,
        "survivors": survivors,
        "equivalent_names": sorted(
            n for n in status if n in equivalent and status[n] in ("survived", "no tests")
        ),
        "seconds": round(seconds),
        "mutmut_rc": rc,
        "sample": sample,
        "seed": seed if sample else None,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "status": dict(sorted(status.items())),
    }


def print_table(rows: list[dict]) -> None:
    head = f"{'module':<10} {'mutants':>7} {'killed':>6} {'timeout':>7} {'survived':>8} {'no tests':>8} {'equiv':>5} {'score':>6} {'time':>6}"
    print(head)
    print("-" * len(head))
    for r in rows:
        score = "-" if r["score"] is None else f"{100 * r['score']:.1f}%"
        print(
            f"{r['module']:<10} {r['mutants']:>7} {r['killed']:>6} {r['timeout']:>7} {r['survived']:>8} "
            f"{r['no tests']:>8} {r['equivalent']:>5} {score:>6} {r['seconds']:>5}s"
        )
    for r in rows:
        if r["survivors"]:
            print(f"\n{r['module']}: not killed ({len(r['survivors'])}); see them with")
            print(f"  (cd .mutation/{r['module']} && {sys.executable} -m mutmut show NAME)")
            for n in r["survivors"]:
                print(f"  {n}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("modules", nargs="*", help=f"default: all of {', '.join(MODULES)}")
    ap.add_argument("--max-children", type=int, default=2, help="parallel mutants (default 2)")
    ap.add_argument("--sample", type=int, help="run only N mutants per module, drawn with --seed")
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--list", action="store_true", help="print the module map and exit")
    ap.add_argument("--report", action="store_true", help="print the results of earlier runs, run nothing")
    ap.add_argument(
        "--collect",
        action="store_true",
        help="read results of a stopped run from .mutation/<module>/ (run nothing)",
    )
    ap.add_argument(
        "--recheck",
        action="store_true",
        help="run the last run's surviving mutants again against the current tests",
    )
    ap.add_argument(
        "--full-stats",
        action="store_true",
        help="with --recheck: collect mutmut's test-to-function map again for every test, not only new ones",
    )
    ap.add_argument(
        "--tests",
        nargs="+",
        help="with --recheck: run the survivors against these test files of the module only (the new guards)",
    )
    args = ap.parse_args()
    modules = args.modules or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        ap.error(f"unknown module(s) {unknown}; choose from {list(MODULES)}")
    if args.list:
        for m in modules:
            print(f"{m}: {' '.join(MODULES[m][0])}\n    tests: {' '.join(MODULES[m][1])}")
        return
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    rows = []
    for m in modules:
        old = previous.get(m)
        if args.collect:
            t = time.time() - (WORK / m / "setup.cfg").stat().st_mtime
            rows.append(summarise(m, read_results(WORK / m), t, -1, args.sample, args.seed))
        elif args.report or args.recheck:
            if not old:
                print(f"{m}: no earlier run", file=sys.stderr)
                continue
            if args.report:
                rows.append(old)
                continue
            print(f"=== {m}: re-checking {len(old['survivors'])} not-killed mutants", flush=True)
            rows.append(recheck_module(m, old, args.max_children, args.full_stats, args.tests))
        else:
            print(f"=== {m}: mutating {' '.join(MODULES[m][0])}", flush=True)
            rows.append(run_module(m, args.max_children, args.sample, args.seed))
        kept = previous.get(m)
        if kept and kept.get("seed") is not None and kept.get("seed") != rows[-1].get("seed"):
            # a fresh sample with a new seed: the last seed's results stay, under <module>_seed<S>
            previous.setdefault(f"{m}_seed{kept['seed']}", kept)
        previous[m] = rows[-1]
        tmp = RESULTS.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(previous, indent=1) + "\n")
        os.replace(tmp, RESULTS)
    print()
    print_table(rows)
    print(f"\nresults: {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
