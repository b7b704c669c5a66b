"""The bureau's inputs for audit, score and bundle, announced on stderr when the sample standard is used."""

from __future__ import annotations

from pathlib import Path

import click

from archive.assess.audit_inputs import AuditInputs, load_inputs
from archive.core.config import Archive


def announced_inputs(archive: Archive, criteria: Path | None, metrics: Path | None) -> AuditInputs:
    """The standard, checklists and metrics; says on stderr when the sample standard is used."""
    inputs = load_inputs(archive, criteria=criteria, metrics=metrics)
    if inputs.sample_note:
        click.echo(inputs.sample_note, err=True)
    return inputs
