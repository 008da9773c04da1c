"""Train one fastText supervised model in a fresh process: ``python _fasttext_worker.py SPEC.json``.

Why a separate process: fastText 0.9.2 initialises only ``thread/10`` of its input matrix
(``DenseMatrix::uniformThread`` uses a block of ``m*n/10`` per thread); with fewer than 10
threads the rest is whatever ``malloc`` returned. In a long-lived Python process that memory is
often recycled heap, so training is randomly non-deterministic or dies with "Encountered NaN"
(measured here: up to 6/6 runs of a small model). A fresh process started with
``MALLOC_MMAP_THRESHOLD_=4096`` gets every large block from new, zero-filled pages, which makes
``thread=1`` training deterministic again. This file imports nothing from midtrain on purpose.
"""

import json
import sys


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    import fasttext

    try:
        model = fasttext.train_supervised(input=spec["input"], **spec["params"])
    except RuntimeError as err:  # fastText raises RuntimeError("Encountered NaN.") on divergence
        print(f"fastText training failed: {err}", file=sys.stderr)
        return 3
    model.save_model(spec["output"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
