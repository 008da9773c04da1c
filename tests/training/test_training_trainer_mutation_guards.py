"""Trainer guards that mutation testing (scripts/mutation.sh trainer) showed missing: a run with a
document curriculum starts and says which key orders the documents."""

import numpy as np

from training.trainer import train
from training.trainer.testing import tiny_train_config, write_tiny_workspace


def test_a_document_curriculum_run_trains_and_names_its_key(tmp_path, capsys):
    tokens, _ = write_tiny_workspace(tmp_path)
    for source in ("web", "code"):
        num_docs = len(np.fromfile(tokens / source / "000.ds.index", dtype="<u8"))
        np.arange(num_docs, dtype="<f4").tofile(tokens / source / "000.ds.difficulty")
    result = train(tiny_train_config(tmp_path, max_steps=1, data={"curriculum": "documents"}))
    assert result.final_step == 1
    assert "data: curriculum documents by difficulty (easiest first)" in capsys.readouterr().err
