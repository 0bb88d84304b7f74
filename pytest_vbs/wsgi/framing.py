"""Whether a request head says unambiguously where its body ends (RFC 9112 sections 3.2, 5, 6), judged before
anything reads the body.

A head that fails answers 400 (501 for a transfer coding the fake does not implement) and the connection closes:
were the server to guess, the bytes of the body could be read as a second request (request smuggling). So:

* every header line has a name, a colon and no whitespace before it (``Content-Length : 5`` is refused: the
  parser would otherwise stop there and leave the rest of the head, and the body, on the stream);
* no value is folded over lines or holds a NUL;
* ``Transfer-Encoding`` is a list of tokens whose last one is ``chunked`` (``gzip``, ``xchunked``,
  ``chunked, gzip`` are refused), only with HTTP/1.1 and never with ``Content-Length``;
* ``Content-Length`` appears once (its digits are the app's check);
* HTTP/1.1 requests carry exactly one ``Host``, and any ``Host`` (or the authority of an absolute request
  target, which stands for it) is a valid ``host[:port]``: what the app reflects into links and
  ``WWW-Authenticate`` is never more than that.
"""

from __future__ import annotations

import re
from email import errors
from email.message import Message
from urllib.parse import urlsplit

#: ``host[:port]`` (RFC 3986 authority without userinfo): a bracketed IP literal or a registered name / IPv4.
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(?::[0-9]{0,5})?")
_CONTROL = re.compile(r"[\r\n\x00]")
#: What the header parser reports for a line it could not take as a header (it drops it, or stops there).
_BAD_LINE = (errors.MissingHeaderBodySeparatorDefect, errors.FirstHeaderLineIsContinuationDefect, errors.HeaderDefect)


def valid_host(value: str) -> bool:
    """Whether ``value`` is a syntactically valid ``Host`` (safe to put into URLs and quoted headers)."""
    return _HOST.fullmatch(value) is not None


def _authority(target: str) -> str:
    try:
        return urlsplit(target).netloc
    except ValueError:  # an unbalanced bracket
        return "["


def _leftover(message: Message) -> bool:
    """Whether the parser kept text after the headers as a "body" (it stopped at a line it could not read;
    with a ``multipart`` or ``message`` content type it parsed that text as parts)."""
    payload = message.get_payload()
    if isinstance(payload, list):
        return any(not isinstance(part, Message) or bool(part.keys()) or _leftover(part) for part in payload)
    return bool(payload)


def head_error(headers: Message, version: str, target: str = "/") -> tuple[int, str] | None:
    """The status and message that refuse this request head (``target``: the request line's), or ``None``
    when its framing is sound."""
    if any(isinstance(defect, _BAD_LINE) for defect in headers.defects) or _leftover(headers):
        return 400, "Malformed header line (whitespace before the colon, or no colon)"
    fields: dict[str, list[str]] = {"host": [], "content-length": [], "transfer-encoding": []}
    for name, value in headers.items():  # one pass: this runs for every request
        if _CONTROL.search(value):
            return 400, f"Header {name[:40]!r} is folded over lines or contains NUL"
        found = fields.get(name.lower())
        if found is not None:
            found.append(value)
    http11 = version != "HTTP/1.0"
    return (_host_error(fields["host"], http11, target)
            or _length_error(fields["content-length"], fields["transfer-encoding"], http11))


def _host_error(hosts: list[str], http11: bool, target: str) -> tuple[int, str] | None:
    if len(hosts) > 1:
        return 400, "More than one Host header"
    if http11 and not hosts:
        return 400, "An HTTP/1.1 request needs a Host header"
    if hosts and not valid_host(hosts[0]):
        return 400, "Invalid Host header"
    if "://" in target[:16] and not valid_host(_authority(target)):
        return 400, "Invalid authority in the request target"
    return None


def _length_error(lengths: list[str], encodings: list[str], http11: bool) -> tuple[int, str] | None:
    if encodings:
        codings = [token.strip().lower() for line in encodings for token in line.split(",") if token.strip()]
        if not http11:
            return 400, "Transfer-Encoding is not allowed in an HTTP/1.0 request"
        if lengths:
            return 400, "A request must not have both Transfer-Encoding and Content-Length"
        if not codings or codings[-1] != "chunked" or codings.count("chunked") > 1:
            return 400, "The last transfer coding must be chunked (and only the last)"
        if len(codings) > 1:
            return 501, f"Transfer coding {codings[0][:40]!r} is not implemented (only chunked is)"
    if len(lengths) > 1:
        return 400, "More than one Content-Length header"
    return None
