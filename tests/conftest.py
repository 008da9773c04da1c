"""Tests never touch the network: hub look-ups fail fast instead of stalling."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_UPDATE_DOWNLOAD_COUNTS"] = "0"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("MPLBACKEND", "Agg")

# Under pytest-xdist every worker is one of the cores: one compute thread per worker (torch's
# intra-op pool and the trainer's per-rank share) instead of each worker spinning on all of them.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MIDTRAIN_NUM_THREADS", "1")
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
