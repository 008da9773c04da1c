"""midtrain evaluation stage: per-domain held-out loss, gains vs retention, benchmarks from local
files (GSM8K, HumanEval, multiple choice; optionally through lm-eval), long-context probes and a
contamination audit, written as eval.parquet + report.md + PNG plots.

    from evaluation import EvalConfig, evaluate
    frame = evaluate({"base": base_dir, "anneal": anneal_dir}, EvalConfig(heldout_dir=curated), out_dir)
"""

from evaluation.config import EvalConfig
from evaluation.runner import evaluate

__all__ = ["EvalConfig", "evaluate"]
