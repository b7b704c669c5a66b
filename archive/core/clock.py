"""The clock, injected wherever time is read, so that tests pin it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def local_now() -> dt.datetime:
    """Now, in the machine's time zone, to the second."""
    return dt.datetime.now().astimezone().replace(microsecond=0)
