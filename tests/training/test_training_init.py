"""Starting a run from a checkpoint: HF folder, DCP checkpoint or hub name; the anneal's LR; bad input."""

import json

import pytest

from training.config import TrainConfig
from training.trainer import Trainer, train
from training.trainer.parallel import shutdown
from training.trainer.testing import read_metrics, tiny_train_config, write_tokenizer


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A 3-step run at constant LR 2e-3 with its HF export and DCP checkpoint."""
    root = tmp_path_factory.mktemp("src")
    cfg = tiny_train_config(root, max_steps=3, optimizer={"lr": 2e-3}, checkpoint={"final_export": True})
    result = train(cfg)
    return root, result


def _anneal(root, tmp_path, **overrides):
    base = dict(run_dir=tmp_path / "anneal", max_steps=4, scheduler={"kind": "anneal"})
    base.update(overrides)
    return tiny_train_config(root, **base)


def test_anneal_from_hf_export_starts_at_its_recorded_lr_with_fresh_optimizer(source, tmp_path, capsys):
    root, result = source
    cfg = _anneal(root, tmp_path, model={"init_from": str(result.final_hf_dir)})
    rows = read_metrics(train(cfg).metrics_path)
    assert [r["lr"] for r in rows] == pytest.approx([1.5e-3, 1e-3, 5e-4, 0.0])
    log = capsys.readouterr().err
    assert "optimizer: fresh" in log and str(result.final_hf_dir) in log
    record = json.loads((tmp_path / "anneal" / "config.json").read_text())
    assert "optimizer: fresh" in record["start"]
    first = read_metrics(result.metrics_path)
    assert rows[0]["loss"] < first[0]["loss"] - 0.1  # it starts from the trained weights


def test_init_from_dcp_checkpoint_loads_weights_and_optimizer(source, tmp_path):
    root, result = source
    ckpt = root / "run" / "checkpoints" / "step_3"
    trainer = Trainer.build(_anneal(root, tmp_path, model={"init_from": str(ckpt)}))
    try:
        assert "optimizer: loaded" in trainer.start_note
        state = trainer.optimizer.state_dict()["state"]
        assert state and all(float(s["step"]) == 3 for s in state.values())  # Adam moments of 3 steps
        assert trainer.schedule.peak_lr == pytest.approx(2e-3)
    finally:
        shutdown(trainer.dist)
    fresh = Trainer.build(
        _anneal(
            root,
            tmp_path,
            run_dir=tmp_path / "fresh",
            model={"init_from": str(ckpt), "load_optimizer": False},
        )
    )
    try:
        assert "optimizer: fresh" in fresh.start_note and not fresh.optimizer.state_dict()["state"]
    finally:
        shutdown(fresh.dist)


def test_explicit_start_lr_wins_and_missing_lr_is_one_error(source, tmp_path):
    root, result = source
    cfg = _anneal(
        root,
        tmp_path,
        model={"init_from": str(result.final_hf_dir)},
        scheduler={"kind": "anneal", "start_lr": 4e-3},
    )
    rows = read_metrics(train(cfg).metrics_path)
    assert rows[0]["lr"] == pytest.approx(3e-3)
    (result.final_hf_dir.parent / "copy").mkdir()
    bare = result.final_hf_dir.parent / "copy"
    for f in result.final_hf_dir.iterdir():
        if f.name != "midtrain_state.json":
            (bare / f.name).write_bytes(f.read_bytes())
    with pytest.raises(ValueError, match=r"scheduler\.start_lr.*model\.init_from"):
        Trainer.build(_anneal(root, tmp_path, run_dir=tmp_path / "x", model={"init_from": str(bare)}))


def test_bad_checkpoint_folders_and_offline_hub_names(source, tmp_path, monkeypatch):
    root, _ = source
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "weights.txt").write_text("?")
    with pytest.raises(
        ValueError, match=r"model\.init_from: .*junk is neither a Hugging Face folder .* nor a midtrain DCP"
    ):
        Trainer.build(_anneal(root, tmp_path, model={"init_from": str(tmp_path / "junk")}))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Trainer.build(_anneal(root, tmp_path, model={"init_from": str(tmp_path / "nope")}))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="HF_HUB_OFFLINE=1") as err:
        Trainer.build(_anneal(root, tmp_path, model={"init_from": "some-org/some-model"}))
    assert "\n" not in str(err.value)


def test_tokenizer_other_than_the_checkpoints_is_refused_before_training(source, tmp_path):
    root, result = source
    other = tmp_path / "ws"
    tokens = other / "tokens"
    tokens.mkdir(parents=True)
    for f in (root / "tokens").rglob("*"):
        if f.is_file():
            (tokens / f.relative_to(root / "tokens")).parent.mkdir(parents=True, exist_ok=True)
            (tokens / f.relative_to(root / "tokens")).write_bytes(f.read_bytes())
    write_tokenizer(tokens / "tokenizer.json", 200)  # same shards, another (smaller) vocabulary
    cfg = _anneal(root, tmp_path, tokens_dir=tokens, model={"init_from": str(result.final_hf_dir)})
    with pytest.raises(ValueError, match="different tokenizer than model.init_from"):
        Trainer.build(cfg)
    assert not (tmp_path / "anneal" / "metrics.jsonl").exists()


def test_seq_len_above_the_models_positions_needs_a_rope_change(source, tmp_path):
    root, _ = source
    cfg = tiny_train_config(
        root, run_dir=tmp_path / "r", model={"tiny": {"hidden_size": 64, "max_position_embeddings": 16}}
    )
    with pytest.raises(ValueError, match=r"seq_len 32 exceeds .* model\.rope"):
        Trainer.build(cfg)


def test_anneal_from_and_init_from_together_is_refused(tmp_path):
    with pytest.raises(ValueError, match="scheduler.anneal_from: it already sets the starting weights"):
        TrainConfig.model_validate(
            dict(
                run_dir=tmp_path,
                tokens_dir=tmp_path,
                plan_path=tmp_path / "p",
                model={"init_from": "a"},
                scheduler={"anneal_from": "b"},
            )
        )


def test_cli_reports_a_bad_init_folder_in_one_line(source, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from recipes.cli import _register_all, app

    root, _ = source
    (tmp_path / "junk").mkdir()
    cfg = _anneal(root, tmp_path, model={"init_from": str(tmp_path / "junk")})
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(json.loads(cfg.model_dump_json())))
    _register_all()
    result = CliRunner().invoke(app, ["train", str(path)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert any("model.init_from" in line and "neither a Hugging Face folder" in line for line in lines)
    assert "Traceback" not in result.output
