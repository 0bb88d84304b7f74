"""The lifecycle engine of the state: when a pending status change (``creating`` → ``available`` ...) completes,
by the transition mode (``immediate``, after N ``reads``, ``manual``, or ``timed``), and how it lands.

``timed`` needs no thread per resource: pending changes wait in a queue ordered by their wall-clock deadline
(``time.monotonic()``), and the state settles what is due whenever it is accessed (``State.project``), so every
read, list, quota and count sees the statuses the clock says, whether or not anybody read the resource itself.
A test's ``advance_clock``/``set_clock`` moves the fake's calendar (policy schedules), not this delay.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from datetime import datetime

from pytest_vbs.service.models import JOB_ERRORS, Backup, Job, Pending, Project, Sharing, TransitionMode

#: The delay of ``timed`` transitions when none is given (``--vbs-seconds``, ``seconds=``).
DEFAULT_SECONDS = 1.0


def check_seconds(seconds: object) -> float:
    """``seconds`` as a float: a finite number >= 0 (not a bool or a string), else ``ValueError``/``TypeError``."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"seconds must be a number of seconds (e.g. 0.2), not {seconds!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be a finite number >= 0, not {seconds!r}")
    return float(seconds)


class DueQueue:
    """Pending changes by deadline; an entry whose backup has moved on (advanced, failed, deleted) is skipped.
    Callers hold the state lock."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Pending, Backup]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, pending: Pending, backup: Backup, seconds: float) -> None:
        pending.due = time.monotonic() + seconds
        heapq.heappush(self._heap, (pending.due, next(self._order), pending, backup))

    def pop_due(self) -> list[Backup]:
        """The backups whose current pending change is due now, earliest first."""
        now, due = time.monotonic(), []
        while self._heap and self._heap[0][0] <= now:
            _, _, pending, backup = heapq.heappop(self._heap)
            if backup.pending is pending:
                due.append(backup)
        return due

    def clear(self) -> None:
        """Forget every deadline (leaving ``timed`` mode, or a reset)."""
        for _, _, pending, _ in self._heap:
            pending.due = None
        self._heap.clear()


class Lifecycle:
    """``State``'s transition engine (a base class: ``State`` provides the projects, the lock and the clock)."""

    lock: threading.RLock
    transitions: TransitionMode
    reads: int
    seconds: float
    sharings: dict[str, Sharing]
    _projects: dict[str, Project]
    _due: DueQueue
    _settling: bool

    def project(self, project_id: str) -> Project:
        raise NotImplementedError

    def backup(self, project_id: str, backup_id: str, *, read: bool = False, shared: bool = False) -> Backup:
        raise NotImplementedError

    def now(self) -> datetime:
        raise NotImplementedError

    def configure(
        self, *, transitions: TransitionMode | None = None, reads: int | None = None, seconds: float | None = None
    ) -> None:
        """Change how pending changes complete. Entering ``timed`` gives the changes already pending a deadline
        ``seconds`` from now; leaving it takes their deadlines away."""
        delay = check_seconds(seconds) if seconds is not None else None
        if reads is not None and reads < 0:
            raise ValueError("reads must be >= 0")
        with self.lock:
            self._settle()
            was_timed = self.transitions is TransitionMode.TIMED
            if transitions is not None:
                self.transitions = transitions
            if reads is not None:
                self.reads = reads
            if delay is not None:
                self.seconds = delay
            timed = self.transitions is TransitionMode.TIMED
            if was_timed and not timed:
                self._due.clear()
            elif timed and not was_timed:
                for project in self._projects.values():
                    for backup in project.backups.values():
                        if backup.pending is not None:
                            self._due.schedule(backup.pending, backup, self.seconds)

    def advance(
        self, project_id: str | None = None, backup_id: str | None = None, *, fail_reason: str | None = None
    ) -> int:
        """Complete pending transitions (all, one project's, or one backup's); returns how many.

        With ``fail_reason`` they fail instead: ``creating`` → ``error``, ``restoring`` →
        ``error_restoring``, ``deleting`` → ``error``, with that ``fail_reason``.
        """
        with self.lock:
            if backup_id is not None:
                if project_id is None:
                    raise ValueError("backup_id needs project_id")
                targets = [self.backup(project_id, backup_id)]
            else:
                projects = [self.project(project_id)] if project_id is not None else list(self._projects.values())
                targets = [b for p in projects for b in p.backups.values() if b.pending is not None]
            done = 0
            for backup in targets:
                if backup.pending is not None:
                    self._finish(backup, fail_reason=fail_reason)
                    done += 1
            return done

    def set_backup_error(self, project_id: str, backup_id: str, fail_reason: str) -> Backup:
        """Force a backup into ``error`` with ``fail_reason``, whatever it was doing."""
        with self.lock:
            backup = self.backup(project_id, backup_id)
            if backup.pending is not None:
                self._finish(backup, fail_reason=fail_reason)
            backup.status = "error"
            backup.fail_reason = fail_reason
            backup.updated_at = self.now()
            return backup

    def _begin(self, backup: Backup, *, success: str | None, failure: str, job: Job | None = None) -> None:
        backup.pending = Pending(success=success, failure=failure, reads_left=self.reads, job=job)
        if self.transitions is TransitionMode.IMMEDIATE:
            self._finish(backup)
        elif self.transitions is TransitionMode.TIMED:
            self._due.schedule(backup.pending, backup, self.seconds)

    def _settle(self) -> None:
        """Complete the timed changes that are due (called under the lock on every access)."""
        if not self._due or self._settling:
            return
        self._settling = True
        try:
            for backup in self._due.pop_due():
                self._finish(backup)
        finally:
            self._settling = False

    def _on_read(self, backup: Backup) -> None:
        pending = backup.pending
        if pending is None or self.transitions is not TransitionMode.READS:
            return
        if pending.reads_left <= 0:
            self._finish(backup)
        else:
            pending.reads_left -= 1

    def _finish(self, backup: Backup, *, fail_reason: str | None = None) -> None:
        pending = backup.pending
        assert pending is not None
        backup.pending = None
        backup.updated_at = self.now()
        if pending.job is not None:
            job = pending.job
            job.status, job.end_time = ("FAIL" if fail_reason is not None else "SUCCESS"), backup.updated_at
            if fail_reason is not None:
                job.error_code, job.fail_reason = JOB_ERRORS.get(job.job_type), fail_reason
        if fail_reason is not None:
            backup.status = pending.failure
            backup.fail_reason = fail_reason
        elif pending.success is None:
            self.project(backup.project_id).remove_backup(backup)
            for sharing_id in [k for k, s in self.sharings.items() if s.backup_id == backup.id]:
                del self.sharings[sharing_id]
        else:
            backup.status = pending.success
