"""A small VBS backup client, the kind of user code pytest-vbs is for (tested in ``test_backup_client.py``).

``endpoint`` is the native V3 endpoint of a project, ``https://<vbs host>/v3/<project_id>``. Transient
failures (5xx answers, broken connections, timeouts) are retried with exponential backoff; creating a
backup is made idempotent by looking the backup up by name before trying again, since a create that
failed on the client's side may still have been committed by the service.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import requests

TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
Sleep = Callable[[float], None]
T = TypeVar("T")


class BackupError(Exception):
    """The service refused a request or kept failing; ``message`` is the service's own words when it gave any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.message = message
        self.status = status


class _Transient(Exception):
    """A failure worth retrying; ``status`` is ``None`` when the connection broke or timed out."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _error_message(response: requests.Response) -> str:
    """The ``message`` of a native envelope ``{"<faultName>": {"code": ..., "message": ...}}``, or the raw text."""
    try:
        [fault] = response.json().values()
        return str(fault["message"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return response.text or response.reason


def _call(method: str, url: str, *, timeout: float, ok: tuple[int, ...], **kwargs: Any) -> requests.Response:
    """One request: the response if its status is in ``ok``; ``_Transient`` or ``BackupError`` otherwise."""
    try:
        response = requests.request(method, url, timeout=timeout, **kwargs)  # reads the whole body
    except TRANSIENT_ERRORS as error:
        raise _Transient(f"{method} {url}: {error}") from error
    if response.status_code in ok:
        return response
    if response.status_code in TRANSIENT_STATUSES:
        raise _Transient(_error_message(response), response.status_code)
    raise BackupError(_error_message(response), response.status_code)


def _retrying(attempt: Callable[[bool], T], attempts: int, backoff: float, sleep: Sleep) -> T:
    """Run ``attempt(retrying)`` until it returns, sleeping ``backoff``, ``2 * backoff``, ... between tries."""
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    last = _Transient("no attempt made")
    for number in range(attempts):
        if number:
            sleep(backoff * 2 ** (number - 1))
        try:
            return attempt(number > 0)
        except _Transient as error:
            last = error
    raise BackupError(f"gave up after {attempts} attempts: {last.message}", last.status)


def find_backups(endpoint: str, *, timeout: float = 10.0, **filters: str) -> list[dict[str, Any]]:
    """Every backup matching ``filters`` (``name``, ``volume_id``, ``status``), with details, following pages."""
    url: str | None = f"{endpoint}/backups/detail"
    params: dict[str, str] | None = filters
    found: list[dict[str, Any]] = []
    while url:
        page = _call("GET", url, params=params, timeout=timeout, ok=(200,)).json()
        found += page["backups"]
        url = next((link["href"] for link in page.get("backups_links", []) if link["rel"] == "next"), None)
        params = None  # the next link carries the query
    return found


def create_backup(endpoint: str, volume_id: str, snapshot_id: str, name: str, *, attempts: int = 4,
                  backoff: float = 0.5, timeout: float = 10.0, sleep: Sleep = time.sleep) -> str:
    """Back up ``snapshot_id`` of ``volume_id`` as ``name`` (unique per backup); returns the backup's id."""
    body = {"backup": {"volume_id": volume_id, "snapshot_id": snapshot_id, "name": name}}

    def attempt(retrying: bool) -> str:
        if retrying:  # the failed attempt may have been committed: do not make a second backup
            for backup in find_backups(endpoint, name=name, volume_id=volume_id, timeout=timeout):
                return str(backup["id"])
        response = _call("POST", f"{endpoint}/backups", json=body, timeout=timeout, ok=(202,))
        return str(response.json()["backup"]["id"])

    return _retrying(attempt, attempts, backoff, sleep)


def wait_for_backup(endpoint: str, backup_id: str, timeout: float, *, interval: float = 1.0,
                    request_timeout: float = 10.0, sleep: Sleep = time.sleep,
                    clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Poll until the backup is ``available`` (returned) or ``error`` (``BackupError`` with its fail_reason)."""
    deadline = clock() + timeout
    while True:
        try:
            response = _call("GET", f"{endpoint}/backups/{backup_id}", timeout=request_timeout, ok=(200,))
            backup: dict[str, Any] = response.json()["backup"]
        except _Transient:  # a hiccup while polling: ask again
            backup = {"status": "unknown"}
        if backup["status"] == "available":
            return backup
        if backup["status"] == "error":
            raise BackupError(f"backup {backup_id} failed: {backup.get('fail_reason')}")
        if clock() >= deadline:
            raise BackupError(f"backup {backup_id} still {backup['status']} after {timeout} s")
        sleep(interval)


def prune_backups(endpoint: str, volume_id: str, keep: int, *, attempts: int = 4, backoff: float = 0.5,
                  timeout: float = 10.0, sleep: Sleep = time.sleep) -> list[str]:
    """Delete the backups of ``volume_id`` beyond the ``keep`` newest (by ``created_at``); returns the ids deleted."""
    backups = find_backups(endpoint, volume_id=volume_id, timeout=timeout)
    backups.sort(key=lambda backup: datetime.fromisoformat(backup["created_at"]), reverse=True)
    doomed = [str(backup["id"]) for backup in backups[keep:]]
    for backup_id in doomed:
        url = f"{endpoint}/backups/{backup_id}"

        def delete(retrying: bool, url: str = url) -> None:
            # 404 on a retry: the failed attempt was committed, the backup is gone already.
            _call("DELETE", url, timeout=timeout, ok=(202, 204, 404) if retrying else (202, 204))

        _retrying(delete, attempts, backoff, sleep)
    return doomed
