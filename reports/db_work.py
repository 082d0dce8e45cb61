"""Bookkeeping writes of the report jobs that survive one broken database connection."""

from collections.abc import Callable
from typing import TypeVar

from django.db import DatabaseError, connection

T = TypeVar("T")


def on_a_working_connection(work: Callable[[], T]) -> T:
    """``work()``, once more on a fresh connection if the first try hit a broken one."""
    try:
        return work()
    except DatabaseError:
        if connection.in_atomic_block:
            raise
        # A connection broken under us (terminated, a server restart, a read cut short by a
        # stop signal) is not the work's fault: close it, and Django opens a new one.
        connection.close()
        return work()
