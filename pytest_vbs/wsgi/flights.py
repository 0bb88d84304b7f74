"""Requests being served, by the reset generation they began in (issue 15: traffic leaking between tests).

Each reset starts a generation. A request records itself in the journal only if no reset came while it was being
served, so a request a test left running never lands in the next test's journal; the ``vbs`` fixture's teardown
waits briefly for the requests its test began and fails the test naming those still running.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Flights:
    """The generation counter and the requests in flight, under one condition."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._generation = 0
        self._serving: dict[int, tuple[int, str]] = {}  # ticket -> (generation, "METHOD /path")
        self._tickets = itertools.count()

    @property
    def generation(self) -> int:
        with self._changed:
            return self._generation

    def new_generation(self) -> int:
        """A reset: requests already in flight will not be recorded."""
        with self._changed:
            self._generation += 1
            return self._generation

    def begin(self, label: str) -> tuple[int, int]:
        """A request starts: its ticket and the generation it belongs to."""
        with self._changed:
            ticket = next(self._tickets)
            self._serving[ticket] = (self._generation, label)
            return ticket, self._generation

    def end(self, ticket: int) -> None:
        with self._changed:
            del self._serving[ticket]
            self._changed.notify_all()

    @contextmanager
    def holding(self, generation: int) -> Iterator[bool]:
        """Whether ``generation`` is still the current one; no reset starts until the block ends."""
        with self._changed:
            yield generation == self._generation

    def wait(self, since: int, timeout: float) -> list[str]:
        """Wait up to ``timeout`` seconds for the requests begun in generation ``since`` or later; those still
        being served then ("METHOD /path")."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                left = [label for generation, label in self._serving.values() if generation >= since]
                remaining = deadline - time.monotonic()
                if not left or remaining <= 0:
                    return left
                self._changed.wait(remaining)
