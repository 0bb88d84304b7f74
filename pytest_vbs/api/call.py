"""The two types every API family uses: :class:`Operation`, one row of the operation table, and :class:`Call`,
what a handler gets; plus :class:`Controls`, the narrow part of the application the control API may drive.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from werkzeug.datastructures import Headers

from pytest_vbs.errors import Family

if TYPE_CHECKING:
    from pytest_vbs.faults import FaultInjector
    from pytest_vbs.journal import Journal
    from pytest_vbs.service import Identity, State


class Controls(Protocol):
    """What the control API (``/__vbs__``) may do beyond state and identity (the application implements it)."""

    @property
    def journal(self) -> Journal: ...

    @property
    def faults(self) -> FaultInjector: ...

    def reset_fake(self) -> None:
        """Reset the whole fake, as its owner defines it (``FakeVBS.reset``)."""

    def openapi_document(self, server_url: str) -> dict[str, Any]:
        """The OpenAPI document of the fake, with ``servers`` set to ``server_url``."""

    def coverage_report(self) -> dict[str, Any]:
        """The API coverage report of the session (404 when coverage is off)."""


@dataclass
class Call:
    """What a handler gets: the validated request, where it was sent, the fake's state and identity."""

    state: State
    identity: Identity
    controls: Controls
    project_id: str
    args: Mapping[str, str]
    query: dict[str, Any]  #: query parameters, coerced to their documented types and validated
    raw_query: dict[str, str]
    body: Any
    version: str  #: ``"v2"`` or ``"v3"`` (the URL's version segment)
    microversion: tuple[int, int] | None
    base_url: str
    path: str
    headers: Headers = field(default_factory=Headers)  #: the request's headers
    response_headers: dict[str, str] = field(default_factory=dict)  #: headers the handler adds to its answer


Handler = Callable[[Call], Any]


@dataclass(frozen=True, eq=False)  # rows are compared and hashed by identity (the table holds each once)
class Operation:
    """One row of the operation table: the operation's name (what the journal, fault injection and assertions
    use), method and werkzeug URL rule, API family (which error envelope), normal status, handler, request and
    query schemas (``schemas/requests|queries/<name>.json``) and the documentation page it follows."""

    name: str
    method: str
    rule: str
    handler: Handler
    status: int = 200
    family: Family = Family.NATIVE
    request_schema: str | None = None
    query_schema: str | None = None
    doc_page: str = ""
    version: str = ""  #: URL version segment for native routes (``v2``/``v3``), for links and microversions
    journal: bool = True  #: control routes are not recorded
    tags: tuple[str, ...] = field(default=())
    #: VBS error code for each error reason this operation can give (VBS-native envelope only).
    codes: Mapping[str, str] = field(default_factory=dict)
    #: Never needs a token, even with auth on (version documents, Keystone, the control API).
    public: bool = False
    #: The pipeline runs the handler under the state lock, so every lookup it makes and the view it builds see
    #: one consistent state. Off for the control rows: a reset runs ``pytest_vbs_configure`` hooks.
    locked: bool = True

    @property
    def documented(self) -> bool:
        """Part of the documented VBS API (not the Cinder helpers, discovery or control)."""
        return "vbs" in self.tags
