"""Benchmark: the demo recipe from scratch, then what the runner's stage keys save on reruns.

The baseline is what a hand-glued script does on any change: run every stage again, i.e. the
from-scratch time. Each rerun (nothing changed; the eval section changed; one anneal's LR
changed) is timed through the real runner, with the stages it ran, and printed as a ratio to the
from-scratch time. The runner's own cost (keys, markers, atomic folders, provenance) is the
from-scratch wall time minus the sum of the stages' wall times.

Run: python bench/bench_recipes_runner.py [--scale 1.0] [--out /tmp/bench_recipes]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from recipes.config import load_recipe
from recipes.runner import RunDir, run_stages
from recipes.stages import build_stages

RERUNS = {
    "nothing changed": [],
    "eval section changed": ["eval.max_tokens_per_domain=20000"],
    "one anneal's LR changed": ["runs.no-replay.train.optimizer.lr=0.002"],
}


def run(out: Path, overrides: list[str]) -> tuple[float, list[str], float]:
    """Wall time, the stages that ran, and the sum of their own wall times."""
    recipe = load_recipe("demo", overrides=overrides)
    run_dir = RunDir(out)
    start = time.perf_counter()
    run_dir.claim(recipe, force=False)
    records = run_stages(build_stages(recipe, out), run_dir, log=lambda _message: None)
    wall = time.perf_counter() - start
    ran = [r for r in records if r.status == "ran"]
    return wall, [r.name for r in ran], sum(r.wall_s for r in ran)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_recipes"))
    args = parser.parse_args()
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    scale = [f"scale={args.scale}"]

    full_wall, full_ran, full_stages = run(out, scale)
    print(f"demo from scratch (scale {args.scale}): {full_wall:.1f} s, {len(full_ran)} stages")
    print(
        f"runner overhead: {full_wall - full_stages:.2f} s of {full_wall:.1f} s "
        f"({100 * (full_wall - full_stages) / full_wall:.2f}%)"
    )
    print()
    print("| rerun | stages run | wall s | from scratch / rerun |")
    print("|---|---|---|---|")
    for label, overrides in RERUNS.items():
        wall, ran, _ = run(out, scale + overrides)
        print(f"| {label} | {', '.join(ran) or '-'} | {wall:.1f} | {full_wall / wall:.1f}x |")
        if overrides:  # back to the recipe as it was, so each rerun starts from the same state
            run(out, scale)


if __name__ == "__main__":
    main()
