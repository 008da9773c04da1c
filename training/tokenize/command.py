"""`midtrain tokenize`: the CLI face of `tokenize_curated` (registered by training/cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from training.tokenize.config import TokenizeConfig
from training.tokenize.run import tokenize_curated


def tokenize_command(
    curated_dir: Annotated[
        Path, typer.Argument(help="Curation run folder (with curated/<source>/) or its curated/ folder.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output tokens folder.")],
    tokenizer: Annotated[
        str | None,
        typer.Option(help="tokenizer.json file, local HF tokenizer folder or hub name; default: train one."),
    ] = None,
    vocab_size: Annotated[int, typer.Option(help="Vocabulary size of a locally trained tokenizer.")] = 4096,
    inventory: Annotated[
        Path | None,
        typer.Option(help="inventory.parquet to copy to OUT/inventory.parquet with exact token counts."),
    ] = None,
    eos_token: Annotated[str | None, typer.Option(help="EOS token text (default: the tokenizer's).")] = None,
    workers: Annotated[int, typer.Option(help="datatrove worker processes per source.")] = 1,
) -> None:
    """Tokenize curated sources into datatrove token shards (EOS after every document).

    Instruction sources (curated with `instruction:`) are rendered with the tokenizer's chat
    template, or the fallback format, and get a loss mask beside each shard (`.ds.mask`)."""
    from rich.console import Console
    from rich.table import Table

    try:
        config = TokenizeConfig(
            tokenizer=tokenizer, vocab_size=vocab_size, eos_token=eos_token, num_workers=workers
        )
        counts = tokenize_curated(curated_dir, out, config, inventory=inventory)
    except (ValueError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    console = Console()
    table = Table(title="midtrain tokenize")
    for col in ("source", "documents", "tokens"):
        table.add_column(col, justify="left" if col == "source" else "right")
    for row in counts.iter_rows(named=True):
        table.add_row(row["source"], f"{row['num_docs']:,}", f"{row['num_tokens']:,}")
    table.add_row("total", f"{counts['num_docs'].sum():,}", f"{counts['num_tokens'].sum():,}", style="bold")
    console.print(table)
    written = [out / "tokenizer.json", out / "counts.parquet", out / "tokenize.json"]
    written += [out / f"{s}/*.ds" for s in counts["source"]]
    if (out / "inventory.parquet").is_file():
        written.append(out / "inventory.parquet")
    # soft wrap: a long path stays whole on one line, so it can be copied from any terminal width
    console.print("wrote: " + ", ".join(str(p) for p in written), soft_wrap=True, highlight=False)
