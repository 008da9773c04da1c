"""`midtrain` subcommands of the training stage: tokenize, train, average."""

from __future__ import annotations

from pathlib import Path

import typer


def train_command(
    config: Path = typer.Argument(..., help="train config YAML (keys of training.config.TrainConfig)"),
    max_steps: int | None = typer.Option(None, help="override max_steps"),
) -> None:
    """Train (or resume) a causal LM on the plan; works under torchrun too."""
    from rich.console import Console
    from rich.table import Table

    from training.config import TrainConfig
    from training.trainer import train

    overrides = {"max_steps": max_steps} if max_steps else {}
    try:
        cfg = TrainConfig.from_yaml(config, **overrides)
        result = train(cfg)
    except (ValueError, FileNotFoundError) as error:  # bad input: one line naming the key and the fix
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    import os

    if os.environ.get("RANK", "0") != "0":
        return
    table = Table(title="midtrain train")
    table.add_column("key")
    table.add_column("value")
    lines = [line for line in result.metrics_path.read_text().splitlines() if line.strip()]
    if lines:
        import json

        last = json.loads(lines[-1])
        for key in ("step", "tokens", "loss", "lr", "tokens_per_s", "mfu"):
            table.add_row(key, f"{last[key]:.4g}" if isinstance(last[key], float) else str(last[key]))
    Console().print(table)
    files = [
        result.metrics_path,
        result.run_dir / "config.json",
        result.run_dir / "loss.png",
        result.run_dir / "lr.png",
        result.run_dir / "schedule.png",
        result.run_dir / "checkpoints",
        result.final_hf_dir,
    ]
    Console().print(
        "files written:\n" + "\n".join(f"  {f}" for f in files if f is not None and Path(f).exists())
    )


def average_command(
    checkpoints: list[Path] = typer.Argument(..., help="HF checkpoint folders (e.g. RUN/hf/step_*)"),
    out: Path = typer.Option(..., "--out", "-o", help="folder for the averaged HF model"),
) -> None:
    """Element-wise mean of N HF checkpoints into one HF model."""
    from rich.console import Console

    from training.average import average_checkpoints

    path = average_checkpoints(checkpoints, out)
    Console().print(f"averaged {len(checkpoints)} checkpoints -> {path}\nfiles written:\n  {path}/")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root `midtrain` app."""
    try:
        from training.tokenize.command import tokenize_command
    except ImportError:  # the tokenize side is not installed yet
        tokenize_command = None
    if tokenize_command is not None:
        app.command("tokenize")(tokenize_command)
    app.command("train")(train_command)
    app.command("average")(average_command)
