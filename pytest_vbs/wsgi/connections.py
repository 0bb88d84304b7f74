"""The server's connections as resources: the threads that serve them, and the connections it refuses.

* :class:`ConnectionThreads`: threads kept and reused (a new connection goes to an idle thread when there is
  one, else to a new thread); a thread idle for the idle timeout retires, and a thread that cannot be started is
  never tracked (the caller refuses the connection instead).
* :class:`Refusals`: connections answered ``503`` in the accept loop (over the connection cap, or no thread
  could be started), half-closed and held a moment so the client reads the answer, a bounded number at once.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import json
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from pytest_vbs.api import family_of
from pytest_vbs.errors import error_body

log = logging.getLogger("pytest_vbs")

#: Longest wait at stop for connection threads to finish, in seconds (every wait of theirs also ends at stop).
MAX_JOIN = 5.0
#: Errors of ``accept()`` that mean "out of descriptors or memory": the loop backs off instead of spinning.
EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: How long a refused connection stays half-open, and how many may at once (the oldest is closed first).
REFUSAL_GRACE = 1.0
MAX_REFUSALS = 64

_Job = tuple[socket.socket, Any]


class ConnectionThreads:
    """The threads that serve connections, kept and reused: a queue hand-off to an idle thread costs a fraction
    of starting a thread, on every ``requests.get`` that opens its own connection."""

    def __init__(self, serve: Callable[[socket.socket, Any], None], *, idle_timeout: float) -> None:
        self._serve = serve
        self.idle_timeout = idle_timeout  #: a thread without a connection for this long exits
        self.name = "pytest-vbs-connection"  #: threads are named ``<name>-<n>``
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._idle = 0  # threads waiting for a job, minus the jobs already queued for them
        self._started = 0
        self._threads: set[threading.Thread] = set()

    def submit(self, connection: socket.socket, address: Any) -> bool:
        """Hand the connection to a thread; ``False`` when no thread could be started (the caller refuses it)."""
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._jobs.put((connection, address))
                return True
            self._started += 1
            thread = threading.Thread(target=self._work, args=((connection, address),), daemon=True,
                                      name=f"{self.name}-{self._started}")
            try:
                thread.start()
            except RuntimeError as error:  # "can't start new thread": out of memory or of threads
                log.debug("pytest-vbs: no thread for a connection: %s", error)
                return False
            self._threads.add(thread)  # tracked only once started: join() never meets an unstarted thread
            return True

    def _work(self, job: _Job | None) -> None:
        while job is not None:
            self._serve(*job)
            with self._lock:
                self._idle += 1
            job = self._next_job()
        with self._lock:
            self._threads.discard(threading.current_thread())

    def _next_job(self) -> _Job | None:
        """The next connection, or ``None`` to exit (stop, or idle for :attr:`idle_timeout`)."""
        try:
            return self._jobs.get(timeout=self.idle_timeout)
        except queue.Empty:
            pass
        with self._lock:  # a job may have been queued for this thread just as it gave up waiting
            try:
                return self._jobs.get_nowait()
            except queue.Empty:
                self._idle -= 1
                return None

    def count(self) -> int:
        with self._lock:
            return len(self._threads)

    def idle(self) -> int:
        """How many threads wait for a connection."""
        with self._lock:
            return self._idle

    def join(self) -> None:
        """Let every thread finish its connection and exit (waiting at most :data:`MAX_JOIN` in all)."""
        with self._lock:
            threads = list(self._threads)
            for _ in threads:
                self._jobs.put(None)
            self._idle = 0
        deadline = time.monotonic() + MAX_JOIN
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def refusal(message: str) -> bytes:
    """A complete ``503`` answer in the error envelope, with ``Retry-After`` and ``Connection: close``."""
    body = json.dumps(error_body(family_of("/"), 503, message)).encode()
    head = ("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n")
    return head.encode() + body


class Refusals:
    """Connections answered ``503`` by the accept loop without a thread. Each is half-closed (the client reads
    the answer and then EOF) and closed :data:`REFUSAL_GRACE` seconds later: closing at once, with the request
    unread, would send a reset that can destroy the answer before the client reads it. Used by one thread."""

    def __init__(self) -> None:
        self._held: collections.deque[tuple[float, socket.socket]] = collections.deque()

    def refuse(self, connection: socket.socket, message: str) -> None:
        with contextlib.suppress(OSError):
            connection.setblocking(False)
            connection.send(refusal(message))
            connection.shutdown(socket.SHUT_WR)
        self._held.append((time.monotonic() + REFUSAL_GRACE, connection))
        while len(self._held) > MAX_REFUSALS:
            self._held.popleft()[1].close()

    def expire(self) -> float | None:
        """Close the connections held long enough; the seconds until the next is due (``None``: none held)."""
        now = time.monotonic()
        while self._held and self._held[0][0] <= now:
            self._held.popleft()[1].close()
        return max(0.0, self._held[0][0] - now) if self._held else None

    def close_all(self) -> None:
        while self._held:
            self._held.popleft()[1].close()
