"""`tunelab report` and `tunelab doctor`: what a study's trials say, as an HTML report or as
the training doctor's findings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

import tunelab
from tunelab import _display as display
from tunelab.analysis.ensembles import METHODS
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
    from tunelab.config import StorageTrust
    from tunelab.study import Study
    from tunelab.trial import TrialRecord

commands = typer.Typer()


@commands.command(
    epilog=examples(
        "tunelab report quickstart-digits-mlp          # writes quickstart-digits-mlp-report.html",
        "tunelab report quadratic -o report.html --storage sqlite:///runs.db",
        "tunelab report digits --trust-storage --trusted-module my_lab   # with the ensemble",
        "tunelab report digits --trust-storage --ensemble-method stack --bagging 5",
    )
)
@user_facing
def report(
    study: StudyArgument,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="The HTML file to write; by default STUDY-report.html in the current "
            "directory. An existing file is kept unless --force is given.",
            show_default=False,
        ),
    ] = None,
    force: ForceOption = False,
    storage: StorageOption = DEFAULT_STORAGE,
    top: Annotated[
        int, typer.Option("--top", "-k", min=1, help="How many best trials to list.")
    ] = 10,
    trust_storage: Annotated[
        bool,
        typer.Option(
            "--trust-storage",
            help="Add the ensemble and the best trial's attributions, which import the code and "
            "read the files the stored study names; only for a storage whose writers you "
            "trust.",
        ),
    ] = False,
    ensemble_method: Annotated[
        str,
        typer.Option(
            "--ensemble-method",
            help="The ensemble the report details, one of: " + ", ".join(METHODS) + "; every "
            "method that fits the task is scored beside it.",
        ),
    ] = "greedy",
    bagging: Annotated[
        int,
        typer.Option(
            "--bagging",
            min=0,
            help="Also retrain the best trial on this many bootstrap resamples of the "
            "training part and score their average (each is a full training); 0 leaves "
            "bagging out.",
        ),
    ] = 0,
    trusted_modules: TrustedModulesOption = None,
    data_roots: DataRootsOption = None,
    debug: DebugOption = False,
) -> None:
    """Write a study's report: one HTML file, readable offline, with the summary, best
    trials, figures, hyperparameter importance and the training doctor's findings, all from the
    stored records. With --trust-storage, also an ensemble of the best trials (for a study file
    with a 'task:' whose data has a test part and whose trials saved their weights) and the
    attributions of the best trial's model."""
    trust = _report_trust(trust_storage, trusted_modules, data_roots)
    loaded = tunelab.load_study(study, existing_storage(storage))
    from tunelab.report import render_report  # needs the plots extra; the error says so

    # The name was checked when the study was read: it cannot lead out of this directory.
    path = output if output is not None else Path(f"{loaded.study_name}-report.html")
    write_output(
        path,
        lambda: render_report(
            loaded,
            top=top,
            ensemble_method=ensemble_method,
            ensemble_bagging=bagging,
            trust_storage=trust,
        ),
        force=force,
        storage=loaded.storage,
    )
    out().print(
        f"Wrote the report of study {study!r} to {path.resolve()}; open it in a browser.",
        soft_wrap=True,  # a path cut in two cannot be copied
    )


def _report_trust(
    trust_storage: bool, trusted_modules: list[str] | None, data_roots: list[Path] | None
) -> bool | StorageTrust:
    """What the report may use of what the storage names: nothing, or what the limits allow."""
    if not trust_storage:
        if trusted_modules or data_roots:
            raise TunelabError(
                "options --trusted-module and --data-root limit what --trust-storage allows, "
                "which was not given; add --trust-storage to build the ensemble and the "
                "attributions, or leave them out."
            )
        return False
    from tunelab.config import StorageTrust

    return StorageTrust(trusted_modules=trusted_modules, data_roots=data_roots)


@commands.command(
    epilog=examples(
        "tunelab doctor quickstart-digits-mlp           # the study and its 3 best trials",
        "tunelab doctor quickstart-digits-mlp 12        # trial 12 alone",
        "tunelab doctor quickstart-digits-mlp --top 10",
    )
)
@user_facing
def doctor(
    study: StudyArgument,
    trial: Annotated[
        int | None,
        typer.Argument(
            min=0,
            help="A trial's number, to diagnose that trial alone.",
            metavar="TRIAL",
            show_default=False,
        ),
    ] = None,
    storage: StorageOption = DEFAULT_STORAGE,
    top: Annotated[
        int, typer.Option("--top", "-k", min=1, help="How many best trials to diagnose.")
    ] = 3,
    debug: DebugOption = False,
) -> None:
    """Say what went wrong in a study's training, with the evidence and what to change: the
    study as a whole and its best trials, or one trial."""
    loaded = tunelab.load_study(study, existing_storage(storage))
    if trial is None:
        _print_study_diagnosis(out(), loaded, top)
    else:
        _print_trial_diagnosis(out(), loaded, trial_numbered(loaded, trial))


def _print_study_diagnosis(console: Console, study: Study, top: int) -> None:
    from tunelab.analysis.doctor import diagnose_study, study_verdict, trials_verdict

    best = display.ranked_trials(study)[:top]  # the trials diagnose_study diagnoses
    findings = diagnose_study(study, top=top)
    about_study = [f for f in findings if f.trial is None]
    console.print(render.study_heading(study))
    verdict = study_verdict(about_study, study.trials)
    console.print(*render.findings(about_study, "The study as a whole", verdict))
    if not best:
        console.print("No trial has completed yet, so there are no best trials to diagnose.")
        return
    numbers = ", ".join(str(record.number) for record in best)
    about_trials = [f for f in findings if f.trial is not None]
    title = f"The best {len(best)} trial(s): {numbers}"
    console.print(*render.findings(about_trials, title, trials_verdict(about_trials, best)))


def _print_trial_diagnosis(console: Console, study: Study, record: TrialRecord) -> None:
    from tunelab.analysis.doctor import diagnose_trial, trials_verdict

    console.print(render.trial_heading(study, record))
    if record.fail_reason:
        first_line = record.fail_reason.strip().splitlines()[0]
        console.print(f"It ended with: {first_line}", soft_wrap=True)
    found = diagnose_trial(record)
    verdict = trials_verdict(found, [record])
    console.print(*render.findings(found, f"Trial {record.number}", verdict))

