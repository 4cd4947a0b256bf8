"""The report's doctor section: what :mod:`tunelab.analysis.doctor` finds in the study as a
whole and in the training of its best trials, with the evidence and the advice."""

from __future__ import annotations

from collections.abc import Sequence

from tunelab.analysis.doctor import Finding, diagnose_study, study_verdict, trials_verdict
from tunelab.report.html import Column, Markup, Section, badge, code, join, note, table, tag
from tunelab.study import Study
from tunelab.trial import TrialRecord

DOCTOR_ID = "doctor"
FINDING_COLUMNS = (
    Column("where"), Column("finding"), Column("evidence"), Column("advice")
)


def doctor_section(study: Study, ranked: Sequence[TrialRecord], diagnosed: int) -> Section:
    """Study-level findings, then those of the ``diagnosed`` best trials (the trials the
    best-trials section lists first)."""
    best = ranked[:diagnosed]  # the trials diagnose_study diagnoses
    findings = diagnose_study(study, top=diagnosed)
    about_study = [f for f in findings if f.trial is None]
    about_trials = [f for f in findings if f.trial is not None]
    parts = [
        note(
            "The training doctor reads each trial's state, failure and per-epoch telemetry and "
            "names what went wrong, the numbers that show it, and what to change."
        ),
        tag("h3", "The study as a whole"),
        findings_html(about_study, study_verdict(about_study, study.trials)),
    ]
    if best:
        numbers = ", ".join(str(record.number) for record in best)
        parts += [
            tag("h3", f"The best {len(best)} trial(s): {numbers}"),
            findings_html(about_trials, trials_verdict(about_trials, best)),
        ]
    return Section(DOCTOR_ID, "Training doctor", join(parts))


def findings_html(findings: Sequence[Finding], verdict: str) -> Markup:
    """The verdict (what was checked, and what could not be), then the findings as a table,
    most severe first as the doctor orders them."""
    verdict_note = note(verdict[:1].upper() + verdict[1:])
    if not findings:
        return verdict_note
    return join([verdict_note, table(FINDING_COLUMNS, [_row(finding) for finding in findings])])


def _row(finding: Finding) -> list[object]:
    severity = badge(finding.severity, finding.severity)
    title = join([severity, finding.title, " ", code(finding.code)])
    return [finding.where, title, finding.evidence, finding.advice]
