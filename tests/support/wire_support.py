"""Raw-socket conversations with a fake, for the transport tests (imported as ``wire_support``)."""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass

#: Longest wait for any answer; a bound against a hung test, not a timing assertion.
TIMEOUT = 5.0
_STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3}) ", re.MULTILINE)


@dataclass
class Stream:
    """Everything the server sent on one connection, and whether it closed its end."""

    data: bytes
    closed: bool

    @property
    def statuses(self) -> list[int]:
        """The status of every answer, in order (``100`` interim answers included)."""
        return [int(code) for code in _STATUS.findall(self.data)]

    def header(self, name: str) -> str | None:
        """The first answer's value of header ``name``."""
        match = re.search(rb"^" + name.encode() + rb": *([^\r\n]*)\r$", self.data, re.MULTILINE | re.IGNORECASE)
        return match.group(1).decode() if match else None


def read_until_closed(sock: socket.socket, *, quiet: float = 0.5, limit: float = TIMEOUT,
                      first: float | None = None) -> Stream:
    """Read until the server closes the connection, or says nothing for ``quiet`` seconds once it answered; the
    first byte may take ``first`` seconds (default: ``quiet``, at least 3 s, so a loaded machine is not silence)."""
    sock.settimeout(max(quiet, 3.0) if first is None else first)
    data = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            piece = sock.recv(65536)
        except TimeoutError:
            return Stream(data, closed=False)
        except ConnectionResetError:
            return Stream(data, closed=True)
        if not piece:
            return Stream(data, closed=True)
        data += piece
        sock.settimeout(quiet)
    return Stream(data, closed=False)


def converse(port: int, data: bytes, *, quiet: float = 0.5) -> Stream:
    """Send ``data`` on a new connection and read every answer (until close, or ``quiet`` seconds of silence)."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        return read_until_closed(sock, quiet=quiet)


def request(method: str, target: str, body: bytes = b"", *, headers: dict[str, str] | None = None,
            version: str = "HTTP/1.1", host: str | None = "127.0.0.1", length: bool = True) -> bytes:
    """A raw request: a ``Host`` (unless ``None``), ``headers``, a ``Content-Length`` for ``body`` (``length``)."""
    lines = [f"{method} {target} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body and length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def read_answer(sock: socket.socket) -> Stream:
    """Read one complete answer (head and ``Content-Length`` bytes of body); ``closed`` if the server closed."""
    sock.settimeout(TIMEOUT)
    data = b""
    while True:
        head, separator, body = data.partition(b"\r\n\r\n")
        if separator:
            length = re.search(rb"^Content-Length: *(\d+)", head, re.MULTILINE | re.IGNORECASE)
            if len(body) >= (int(length.group(1)) if length else 0):
                return Stream(data, closed=False)
        piece = sock.recv(65536)
        if not piece:
            return Stream(data, closed=True)
        data += piece
