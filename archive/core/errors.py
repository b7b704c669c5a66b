"""The one exception family of dangan.

The library never prints or exits: it raises an :class:`ArchiveError` subclass that
carries the exit code the CLI should use and a message naming the file and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ArchiveError(Exception):
    """Base of every error dangan raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class UsageError(ArchiveError):
    """The command was called wrongly (bad option values, missing arguments)."""

    exit_code = 2


class ArchiveNotFound(ArchiveError):
    """No archive at or above the folder given."""

    exit_code = 3


class ConfigError(ArchiveError):
    """dangan.toml or another bureau-owned file is malformed."""

    exit_code = 4


class LockedError(ArchiveError):
    """Another dangan process holds the archive's writer lock."""

    exit_code = 5


class IntegrityError(ArchiveError):
    """Records changed or went missing behind dangan's back."""

    exit_code = 6


class NotFoundError(ArchiveError):
    """A key, record or file asked for does not exist."""

    exit_code = 7


class BackupError(ArchiveError):
    """The backup engine or its target refused or failed (full, gone, wrong password …)."""

    exit_code = 9


@dataclass(frozen=True)
class Problem:
    """One problem found while validating a whole file (row, field, expected, found)."""

    row: int | None
    field: str
    expected: str
    found: str

    def __str__(self) -> str:
        where = f"第{self.row}行" if self.row is not None else "文件"
        return f"{where} {self.field}: 应为{self.expected}, 实为{self.found!r}"


class ValidationError(ArchiveError):
    """A whole file was validated and these problems were found; nothing was changed."""

    exit_code = 8

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = [f"{source}: {len(self.problems)} 处问题, 未导入任何内容:"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class Forbidden(ArchiveError):
    """The signed-in user's role does not allow this action (三员分立: each role its own work)."""

    exit_code = 10


class AuthenticationError(ArchiveError):
    """A sign-in was refused: unknown name, wrong password, a disabled or locked account."""

    exit_code = 11


class TryLater(ArchiveError):
    """A file is sound but cannot be processed now (a service it needs is away, such as the
    OCR workers): it is left where it is and taken again on the next run."""

    exit_code = 12
    code = "try_later"
