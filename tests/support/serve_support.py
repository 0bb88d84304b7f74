"""A standalone ``python -m pytest_vbs serve`` in a subprocess, for the CLI and safe-default tests."""

from __future__ import annotations

import queue
import re
import resource
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Generous bounds for a subprocess to start or stop; they are deadlines against hangs, not timing assertions.
DEADLINE = 20.0


class Server:
    """A ``serve`` subprocess and the lines it printed."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self._wait_for_url()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _wait_for_url(self) -> str:
        while True:
            line = self.lines.get(timeout=DEADLINE)
            if line is None:
                raise AssertionError(f"serve exited before printing its URL: {''.join(self.output)}")
            self.output.append(line)
            match = re.search(r"(http://\S+)", line)
            if match:
                return match.group(1).rstrip("/")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self, signum: int) -> tuple[int, str]:
        """Send ``signum``; the exit status and everything printed."""
        self.process.send_signal(signum)
        status = self.process.wait(timeout=DEADLINE)
        while (line := self.lines.get(timeout=DEADLINE)) is not None:
            self.output.append(line)
        return status, "".join(self.output)


@contextmanager
def serve(*args: str, env: dict[str, str] | None = None, nofile: int | None = None) -> Iterator[Server]:
    """``serve`` on a free port; ``nofile`` lowers its limit of open descriptors (``RLIMIT_NOFILE``)."""

    def limit() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_vbs", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, preexec_fn=limit,
    )
    try:
        yield Server(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=DEADLINE)
        if process.stdout is not None:
            process.stdout.close()
