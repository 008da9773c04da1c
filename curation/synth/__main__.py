"""``python -m curation.synth grade CONFIG.yaml OUT_DIR``: model-graded quality (curation/synth/grade.py).

Synthesis itself runs inside ``midtrain curate`` (the ``synthesize:`` section of a curation config).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curation.synth", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="grade a sample with a model and distil the grades into fastText")
    grade.add_argument("config", type=Path, help="YAML with the GradeConfig keys (or a `grade:` section)")
    grade.add_argument("out", type=Path, help="output folder")
    args = parser.parse_args(argv)

    from curation.config_errors import load_yaml_mapping, validate_model
    from curation.synth.grade import run_grading
    from curation.synth.grade_config import GradeConfig

    data = load_yaml_mapping(args.config)
    data = data.get("grade", data)
    config = validate_model(GradeConfig, data, where=str(args.config))
    result = run_grading(config, args.out)
    print(json.dumps({k: getattr(result, k) for k in ("num_graded", "num_unparsable", "spearman", "f1")}))
    print(f"model: {result.model_path}\nreport: {result.report_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
