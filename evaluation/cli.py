"""`midtrain eval MODEL_DIR [MODEL_DIR ...] --config EVAL.yaml --out DIR`."""

from __future__ import annotations

from pathlib import Path

import typer


def _labels(model_dirs: list[Path], names: str | None) -> dict[str, Path]:
    if names:
        labels = [n.strip() for n in names.split(",")]
        if len(labels) != len(model_dirs):
            raise ValueError(f"--names: {len(labels)} label(s) for {len(model_dirs)} model folder(s)")
    else:  # folder names, made unique with their parent when two folders share a name (hf/step_N)
        labels = [p.name for p in model_dirs]
        if len(set(labels)) != len(labels):
            labels = [f"{p.parent.name}/{p.name}" for p in model_dirs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"checkpoint labels are not unique: {labels}; pass --names")
    return dict(zip(labels, model_dirs, strict=True))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root `midtrain` app."""

    @app.command("eval")
    def eval_command(
        model_dirs: list[Path] = typer.Argument(..., help="HF model folders (save_pretrained + tokenizer)."),
        config: Path | None = typer.Option(None, "--config", "-c", help="EvalConfig YAML."),
        out: Path = typer.Option(..., "--out", "-o", help="Output folder for eval.parquet, report.md, PNGs."),
        names: str | None = typer.Option(None, help="Comma-separated labels, one per model folder."),
        base: str | None = typer.Option(None, help="Label of the base checkpoint (default: the first)."),
        device: str | None = typer.Option(None, help="Override the config's device (cpu, cuda, auto)."),
    ) -> None:
        """Held-out loss per domain, gains vs retention, benchmarks, long-context probes, contamination."""
        from evaluation.config import EvalConfig
        from evaluation.report import print_summary
        from evaluation.runner import evaluate

        eval_config = EvalConfig.from_yaml(config) if config else EvalConfig()
        updates = {k: v for k, v in {"base": base, "device": device}.items() if v is not None}
        if updates:
            eval_config = eval_config.model_copy(update=updates)
        models = _labels(model_dirs, names)
        frame = evaluate(models, eval_config, out)
        files = [out / "eval.parquet", out / "report.md", *sorted(out.glob("*.png"))]
        print_summary(frame, checkpoints=list(models), files=files)
