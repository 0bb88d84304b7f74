"""The recording proxy: the fake's request pipeline (journal, fault rules, hooks) with the operation replaced by
forwarding the request to the real cloud and its answer back.

Forwarded byte for byte, apart from the hop-by-hop headers (RFC 9110 7.6.1) and the real endpoint URLs in the
answer (links, catalogs, ``Location``), which become proxy URLs so that clients keep talking through the proxy.
A request without ``X-Auth-Token`` gets the live session's token (never one to the identity service); a request
is sent only to an origin the catalog named. The control API (``/__vbs__``) is the fake's alone: 404, never sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

from pytest_vbs.errors import APIError
from pytest_vbs.journal import Journal, RecordedRequest
from pytest_vbs.live.mounts import Mount, Mounts, UnknownTarget
from pytest_vbs.service.identity import TOKEN_HEADER
from pytest_vbs.wsgi import validation
from pytest_vbs.wsgi.app import DEFAULT_MAX_BODY, VBSApp, _Exchange
from pytest_vbs.wsgi.reply import Reply, json_response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

#: Headers that belong to one connection, not to the message (RFC 9110 7.6.1), plus those the proxy recomputes.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "proxy-connection", "host", "content-length"})
#: Seconds to connect to the cloud and to wait for its answer.
TIMEOUT = (10.0, 120.0)
#: Largest answer the proxy reads from the cloud (bigger ones answer 502): memory stays bounded.
MAX_ANSWER = 64 * 1024 * 1024
CONTROL_PREFIX = "/__vbs__"
ENVIRON_MOUNT = "pytest_vbs.live.mount"
ENVIRON_FORWARDED = "pytest_vbs.live.forwarded"


@dataclass(frozen=True)
class Forwarded:
    """The cloud's own answer to one request (before a fault rule may have replaced it for the client)."""

    url: str  #: the real URL the request went to
    status: int
    headers: list[tuple[str, str]]
    json: Any  #: the parsed body (endpoint URLs rewritten), or ``None``


#: What the proxy tells its observers about each answered request: the journal entry, and the cloud's answer
#: (``None`` when the proxy answered alone: a fault rule before forwarding, a refusal, the control API).
Observer = Callable[[RecordedRequest, "Forwarded | None"], None]


def hop_by_hop(headers: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The headers (lowercase) that stay behind: :data:`HOP_BY_HOP` and those ``Connection`` names."""
    named = {token.strip().lower() for name, value in headers if name.lower() == "connection"
             for token in value.split(",")}
    return HOP_BY_HOP | named


class ForwardedReply(Reply):
    """The cloud's answer: its status, its headers (hop-by-hop ones dropped, repeated ones kept) and its body."""

    def __init__(self, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        super().__init__(status, body)
        self._headers = {}
        headers = list(headers)
        dropped = hop_by_hop(headers)
        for name, value in headers:
            key = name.lower()
            if key in dropped:
                continue
            slot = key if key not in self._headers else f"{key}#{len(self._headers)}"
            self._headers[slot] = (name, value)
        if status not in (204, 304):
            self._headers["content-length"] = ("Content-Length", str(len(body)))


class ProxyApp(VBSApp):
    """Forwards to the cloud behind :attr:`mounts` (set once the proxy's URL is known), authenticating with
    ``token`` (the live session's, renewed by keystoneauth)."""

    def __init__(self, token: Callable[[], str], *, journal: Journal | None = None, hook: Any = None,
                 verify: Any = True, cert: Any = None, max_body: int = DEFAULT_MAX_BODY,
                 redact: Callable[[str], str] = str) -> None:
        super().__init__(journal=journal, hook=hook, max_body=max_body, control=False)
        self._redact = redact
        import requests  # third-party, a dependency of keystoneauth1 (the live extra)

        self.mounts: Mounts | None = None
        self._token = token
        self._http = requests.Session()
        self._http.headers.clear()  # only the client's headers go out
        self._http.verify, self._http.cert = verify, cert
        self.observers: list[Observer] = []
        self._control_lock = threading.Lock()
        self._control_calls: list[str] = []  # answered 404, never sent; the test that made them is skipped

    def close(self) -> None:
        self._http.close()

    def take_unexpected_errors(self) -> list[str]:
        """As the fake's, with the cloud's secrets (credentials, tokens) redacted."""
        return [self._redact(error) for error in super().take_unexpected_errors()]

    def control_calls(self, *, clear: bool = False) -> list[str]:
        """The control API requests seen (``POST /__vbs__/reset`` ...), oldest first; ``clear`` forgets them."""
        with self._control_lock:
            calls = list(self._control_calls)
            if clear:
                self._control_calls.clear()
            return calls

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.mounts is None:  # between the bind and the mount table: nothing to forward to yet
            return json_response(503, {"message": "The live proxy is starting."})(environ, start_response)
        raw = environ.get("RAW_URI") or quote(environ.get("PATH_INFO") or "/", safe="/%:@!$&'()*+,;=~") + (
            f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else "")
        if "://" in raw.split("?", 1)[0]:  # the absolute form: the path after the authority
            raw = "/" + raw.split("://", 1)[1].partition("/")[2]
        # The mount is chosen on the path as sent (an encoded "%2F" cannot make it another mount); the journal and
        # the routing see it decoded, as WSGI gives paths.
        raw_path, _, raw_query = raw.partition("?")
        mount, raw_logical = self.mounts.target(raw_path or "/")
        environ[ENVIRON_MOUNT] = (mount, raw_logical, raw_query)
        environ["PATH_INFO"] = unquote_to_bytes(raw_logical).decode("latin-1")
        return super().__call__(environ, start_response)

    def _stamp(self, exchange: _Exchange, response: Reply) -> None:
        """Nothing: the cloud's own headers stand (a request id of the proxy's would hide the real one)."""

    def _operate(self, exchange: _Exchange, route_error: APIError | None, parsed: Any,
                 parse_error: APIError | None) -> Reply:
        request = exchange.request
        if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
            with self._control_lock:
                self._control_calls.append(f"{request.method} {request.path}")
                del self._control_calls[:-100]
            raise APIError(404, f"The control API ({CONTROL_PREFIX}) is the fake's: live mode does not send "
                           f"{request.method} {request.path} to the cloud.", reason="unknown_route")
        mount, raw_path, raw_query = request.environ[ENVIRON_MOUNT]
        assert self.mounts is not None
        try:
            url = self.mounts.real_url(mount, raw_path, raw_query)
        except UnknownTarget as error:
            raise APIError(403, f"{error}.", reason="forbidden") from None
        reply = self._forward(request.method, url, self._headers(mount, request.headers.items()),
                              exchange.entry.body)
        request.environ[ENVIRON_FORWARDED] = Forwarded(url, reply.status_code, reply.headers,
                                                       validation.try_json(reply.body))
        return reply

    def _headers(self, mount: Mount, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        headers = list(headers)
        dropped = hop_by_hop(headers)
        sent = {name: value for name, value in headers if name.lower() not in dropped}
        if not mount.identity and not any(name.lower() == TOKEN_HEADER.lower() for name in sent):
            sent[TOKEN_HEADER] = self._token()
        return sent

    def _forward(self, method: str, url: str, headers: dict[str, str], body: bytes) -> Reply:
        import requests  # third-party, a dependency of keystoneauth1 (the live extra)

        try:
            answer = self._http.request(method, url, headers=headers, data=body or None, stream=True,
                                        allow_redirects=False, timeout=TIMEOUT)
        except requests.RequestException as error:
            raise APIError(502, f"The cloud did not answer {method} {urlsplit(url).path}: "
                           f"{type(error).__name__}.", reason="bad_gateway") from None
        with answer:
            encoded = answer.headers.get("Content-Encoding", "identity").lower() not in ("identity", "")
            data = answer.raw.read(MAX_ANSWER + 1, decode_content=encoded)
            pairs = [(k, v) for k, v in answer.raw.headers.items()
                     if not (encoded and k.lower() == "content-encoding")]
        if len(data) > MAX_ANSWER:
            raise APIError(502, f"The cloud's answer exceeds {MAX_ANSWER} bytes.", reason="bad_gateway")
        assert self.mounts is not None
        pairs = [(k, self.mounts.to_proxy(v)) for k, v in pairs]
        return ForwardedReply(answer.status_code, pairs, self.mounts.rewrite(data))

    def _record(self, exchange: _Exchange, response: Reply) -> None:
        super()._record(exchange, response)
        forwarded = exchange.request.environ.get(ENVIRON_FORWARDED)
        for observer in list(self.observers):
            try:
                observer(exchange.entry, forwarded)
            except Exception:  # an observer's bug: the answer stands, the test fails at teardown
                self._record_unexpected(exchange.request)
