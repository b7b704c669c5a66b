"""What audit, score and bundle share: the bureau's inputs, announced, and the score."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from archive.audit_inputs import AuditInputs, load_inputs
from archive.catalog import Catalog
from archive.config import Archive
from archive.score import ScoreReport, score_archive


def announced_inputs(archive: Archive, criteria: Path | None, metrics: Path | None) -> AuditInputs:
    """The standard, checklists and metrics; says on stderr when the sample standard is used."""
    inputs = load_inputs(archive, criteria=criteria, metrics=metrics)
    if inputs.sample_note:
        click.echo(inputs.sample_note, err=True)
    return inputs


def score_with(
    archive: Archive,
    catalog: Catalog,
    inputs: AuditInputs,
    year: int,
    as_of: dt.date,
    *,
    fixity: bool = False,
) -> ScoreReport:
    return score_archive(
        archive,
        catalog,
        inputs.standard,
        year=year,
        as_of=as_of,
        metrics=inputs.metrics,
        checklists=inputs.checklists,
        fixity=fixity,
    )
