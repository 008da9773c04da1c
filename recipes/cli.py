"""The ``midtrain`` command: one subcommand per stage, assembled from each package's ``cli.py``.

Each stage package exposes ``register(app: typer.Typer)`` in its own ``cli.py`` and adds its
commands there, so the stage's options live next to the stage's code. This module only assembles
them and turns user errors into one readable line (see ``recipes/errors.py``).
"""

from __future__ import annotations

import os

# Nothing downloads at run time unless the user opts in (MIDTRAIN_ONLINE=1).
if os.environ.get("MIDTRAIN_ONLINE") != "1":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_UPDATE_DOWNLOAD_COUNTS", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import typer  # noqa: E402

from recipes.errors import report_and_exit  # noqa: E402

app = typer.Typer(
    name="midtrain",
    help="LLM mid-training: curate corpora, plan mixtures, tokenize, train with annealing, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_all() -> None:
    from curation.cli import register as register_curation
    from evaluation.cli import register as register_evaluation
    from mixing.cli import register as register_mixing
    from recipes.commands import register as register_recipes
    from recipes.search_command import register as register_search
    from training.cli import register as register_training

    for register in (
        register_curation,
        register_mixing,
        register_training,
        register_evaluation,
        register_recipes,
        register_search,
    ):
        register(app)


def main() -> None:
    _register_all()
    try:
        app(standalone_mode=False)
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError) as error:
        report_and_exit(error, verbose=os.environ.get("MIDTRAIN_DEBUG") == "1")
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as error:  # click's own usage errors carry an exit code
        import click

        if isinstance(error, click.exceptions.ClickException):
            error.show()
            raise SystemExit(error.exit_code) from None
        if isinstance(error, click.exceptions.Abort):
            raise SystemExit(1) from None
        raise


if __name__ == "__main__":
    main()
