"""TensorBoard and W&B (offline) get the same values as metrics.jsonl, and the resolved config."""

import glob
import json
import struct
from pathlib import Path

import pytest

from training.trainer.loop import train
from training.trainer.testing import read_metrics, tiny_train_config


def _tensorboard_scalars(log_dir) -> tuple[dict[str, dict[int, float]], str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    scalars = {tag: {e.step: e.value for e in acc.Scalars(tag)} for tag in acc.Tags()["scalars"]}
    text = acc.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    return scalars, text


def _wandb_records(path) -> list:
    """Records of an offline run's .wandb file (LevelDB log framing of wandb_internal Record)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, block, chunks, buf = Path(path).read_bytes(), 7, 32768, [], b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        pos += 7
        piece, pos = data[pos : pos + length], pos + length
        if kind == 1:
            chunks.append(piece)
        elif kind == 2:
            buf = piece
        elif kind == 3:
            buf += piece
        elif kind == 4:
            chunks.append(buf + piece)
    records = []
    for c in chunks:
        r = pb.Record()
        r.ParseFromString(c)
        records.append(r)
    return records


def test_tensorboard_and_wandb_offline_log_what_metrics_jsonl_logs(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = tiny_train_config(
        tmp_path,
        max_steps=5,
        log_every=2,
        tracking={"tensorboard": True, "wandb": {"project": "midtrain-test", "mode": "offline"}},
    )
    train(cfg)
    rows = read_metrics(cfg.run_dir / "metrics.jsonl")
    assert [r["step"] for r in rows] == [2, 4, 5]
    keys = {"loss", "lr", "grad_norm", "tokens_per_s", "mfu", "loss/general", "loss/code"}
    assert keys <= set(rows[0])

    scalars, text = _tensorboard_scalars(cfg.run_dir / "tensorboard")
    for row in rows:
        for key, value in row.items():
            if key != "step":
                assert scalars[key][row["step"]] == pytest.approx(value, rel=1e-6), key
    assert set(scalars["loss"]) == {2, 4, 5}
    assert '"global_batch_tokens": 256' in text and "git_commit" in text

    (wandb_file,) = glob.glob(str(cfg.run_dir / "wandb" / "offline-run-*" / "run-*.wandb"))
    records = _wandb_records(wandb_file)
    history = [
        {(item.key or "/".join(item.nested_key)): json.loads(item.value_json) for item in r.history.item}
        for r in records
        if r.WhichOneof("record_type") == "history"
    ]
    assert [h["step"] for h in history] == [2, 4, 5]
    for row, logged in zip(rows, history, strict=True):
        for key in keys:
            assert logged[key] == pytest.approx(row[key], rel=1e-9), key
    config = {
        (item.key or "/".join(item.nested_key)): json.loads(item.value_json)
        for r in records
        if r.WhichOneof("record_type") in ("run", "config")
        for item in (r.run.config.update if r.WhichOneof("record_type") == "run" else r.config.update)
    }
    assert config["config"]["global_batch_tokens"] == 256 and "versions" in config
    run_id = (cfg.run_dir / "wandb_run_id").read_text().strip()
    assert run_id in wandb_file


def test_a_tracker_without_its_package_fails_before_training(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "wandb" else real(n, *a))
    cfg = tiny_train_config(tmp_path, max_steps=2, tracking={"wandb": {"project": "x"}})
    with pytest.raises(ValueError, match=r"tracking.wandb: needs the 'wandb' package"):
        train(cfg)
    assert not (cfg.run_dir / "metrics.jsonl").exists()


def test_tracking_keys_are_validated(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        tiny_train_config(tmp_path, tracking={"wandb": {"mode": "sometimes"}})
    with pytest.raises(ValueError, match="tensorbord"):
        tiny_train_config(tmp_path, tracking={"tensorbord": True})
