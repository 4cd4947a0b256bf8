"""`tunelab explain`: which inputs a trial's trained model rests on, as a table of attributions
and, with ``-o``, a page of figures.

The model is rebuilt from the study's stored task (importing its code, reading its data) and
loaded with the weights the trial saved, all of which the storage names: the command runs only
with --trust-storage, within --trusted-module and --data-root, as `tunelab worker` does.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import tunelab
from tunelab.cli import render
from tunelab.cli.common import (
    DataRootsOption,
    DebugOption,
    ForceOption,
    StorageOption,
    StudyArgument,
    TrustedModulesOption,
    examples,
    existing_storage,
    out,
    trial_numbered,
    user_facing,
    write_output,
)
from tunelab.exceptions import TunelabError
from tunelab.storage import DEFAULT_STORAGE

if TYPE_CHECKING:
    from tunelab.analysis.explain import ExplainResult
    from tunelab.config import StorageTrust
    from tunelab.study import Study

commands = typer.Typer()


@commands.command(
    epilog=examples(
        "tunelab explain quickstart-digits-mlp --trust-storage       # its best trial",
        "tunelab explain quickstart-digits-mlp 12 --trust-storage -o trial-12.html",
        "tunelab explain digits --trust-storage --split test --data-root /data/digits",
    )
)
@user_facing
def explain(
    study: StudyArgument,
    trial: Annotated[
        int | None,
        typer.Argument(
            min=0,
            help="A trial's number; by default the best trial that saved its weights.",
            metavar="TRIAL",
            show_default=False,
        ),
    ] = None,
    storage: StorageOption = DEFAULT_STORAGE,
    split: Annotated[
        str, typer.Option(help="The part of the data to explain: val or test.")
    ] = "val",
    top: Annotated[
        int, typer.Option("--top", "-k", min=1, help="How many features to list.")
    ] = 20,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Also write the figures to this HTML file. An existing file is kept unless "
            "--force is given.",
            show_default=False,
        ),
    ] = None,
    force: ForceOption = False,
    trust_storage: Annotated[
        bool,
        typer.Option(
            "--trust-storage",
            help="Required: rebuild the study's task (importing the code and reading the data "
            "it names) and read the trial's saved weights; only for a storage whose writers "
            "you trust.",
        ),
    ] = False,
    trusted_modules: TrustedModulesOption = None,
    data_roots: DataRootsOption = None,
    debug: DebugOption = False,
) -> None:
    """Say which inputs a trial's model rests on: its predictions on samples of the validation
    (or test) part, attributed to the inputs by integrated gradients, saliency, GradientSHAP
    and occlusion (feature ablation for tabular data). Prints the features ranked by their
    share of the attribution, or for pictures a summary per class."""
    trust = _trust(study, trust_storage, trusted_modules, data_roots)
    loaded = tunelab.load_study(study, existing_storage(storage))
    if trial is not None:
        trial_numbered(loaded, trial)  # a clear error for a number the study does not have
    if output is None:
        result = _explain(loaded, trial, split, trust)
    else:
        from tunelab.report.explain import explain_page  # needs the plots extra

        made: list[ExplainResult] = []

        def page() -> str:  # written only after the output file is known to be free
            made.append(_explain(loaded, trial, split, trust))
            return explain_page(loaded, made[0])

        write_output(output, page, force=force, storage=loaded.storage)
        result = made[0]
    console = out()
    console.print(render.explain_heading(loaded, result))
    table = render.feature_table(result, top) if result.kind == "tabular" else (
        render.class_table(result))
    console.print(table)
    if output is not None:
        console.print(f"Wrote the figures to {output.resolve()}; open it in a browser.",
                      soft_wrap=True)


def _explain(study: Study, trial: int | None, split: str, trust: StorageTrust) -> ExplainResult:
    from tunelab.analysis.explain import explain as attributions  # needs torch and captum
    from tunelab.report.stored import trusted_task

    return attributions(study, trusted_task(study, None, trust), trial, split=split)


def _trust(
    study: str, trust_storage: bool, trusted_modules: list[str] | None,
    data_roots: list[Path] | None,
) -> StorageTrust:
    if not trust_storage:
        raise TunelabError(
            "tunelab explain rebuilds the study's model from what the storage names (its "
            "task, by importing the task's code and reading its data, and the trial's saved "
            "weights), which it does only when asked; if you trust this storage, run it again "
            f"with --trust-storage: `tunelab explain {shlex.quote(study)} --trust-storage` (and "
            "--trusted-module, --data-root to limit what it may use)."
        )
    from tunelab.config import StorageTrust

    return StorageTrust(trusted_modules=trusted_modules, data_roots=data_roots)
