"""``FakeVBS``: the handle a test holds: the running server, its state and journal, and the verbs to drive them.

It is also the composition root: it builds the state (with the backup policy scheduler on its clock), the identity
service, the journal, the application and the server, and wires them together.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pluggy

from pytest_vbs import assertions, clients, har, openapi, schemas
from pytest_vbs.errors import unknown_name
from pytest_vbs.faults import FaultRule, sequence_rules
from pytest_vbs.hookspecs import standalone_plugin_manager
from pytest_vbs.journal import DEFAULT_JOURNAL_BYTES, Journal, RecordedRequest
from pytest_vbs.journal import journal_bytes as journal_budget
from pytest_vbs.service import scheduler
from pytest_vbs.service.identity import DEFAULT_PROJECT_ID, Identity
from pytest_vbs.service.lifecycle import DEFAULT_SECONDS
from pytest_vbs.service.models import MAX_BACKUPS_PER_VOLUME, Backup, Job, Policy, Snapshot, TransitionMode, Volume
from pytest_vbs.service.policies import seed as seed_policy
from pytest_vbs.service.state import State
from pytest_vbs.wsgi.app import DEFAULT_MAX_BODY, VBSApp
from pytest_vbs.wsgi.serving import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, VBSServer

if TYPE_CHECKING:
    from openstack.connection import Connection

    from pytest_vbs.coverage import CoverageRecorder

__all__ = ["DEFAULT_PROJECT_ID", "FakeVBS", "SeedingWarning"]


class SeedingWarning(UserWarning):
    """A seeding helper made what the API itself refuses to make (a 21st backup of a volume): the test goes on,
    and a suite that means it filters the warning (``filterwarnings = ignore::pytest_vbs.SeedingWarning``)."""


class FakeVBS:
    """A fake VBS service on ``host:port`` and everything a test needs to drive and inspect it.

    In pytest, the ``vbs`` fixture gives you one, already started and reset for the test. Elsewhere::

        with FakeVBS() as fake:
            volume_id = fake.add_volume(size=10)
            ...  # point your client at fake.endpoint
    """

    #: Set by the pytest plugin while a test runs: how :meth:`isolated` configures (marks) and checks (strict mode)
    #: a clean fake for that test.
    test_scope: Callable[[FakeVBS], AbstractContextManager[FakeVBS]] | None = None

    #: Whether this is the real cloud through the live proxy (``--vbs-live``): never, for the fake.
    live = False

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        project_id: str = DEFAULT_PROJECT_ID,
        transitions: TransitionMode | str = TransitionMode.IMMEDIATE,
        reads: int = 1,
        seconds: float = DEFAULT_SECONDS,
        plugin_manager: pluggy.PluginManager | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        auth: bool = False,
        control: bool = True,
        projects: Iterable[str] | None = None,
        journal_bytes: int | str = DEFAULT_JOURNAL_BYTES,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        coverage: CoverageRecorder | None = None,
    ) -> None:
        """``host`` is 127.0.0.1 unless other machines must reach the fake (binding 0.0.0.0 or :: warns);
        ``control=False`` turns the ``/__vbs__`` control API off (its routes answer 404, like unknown ones);
        ``projects`` restricts the project ids served (others answer 404; by default any id works);
        ``journal_bytes`` is the request journal's memory budget (bytes, or text like ``"16MiB"``; at least 4 MiB):
        past it the oldest entries are evicted; ``idle_timeout`` closes a connection silent for that many seconds
        (60); ``max_connections`` caps the connections open at once (512; more are answered 503 and closed);
        ``coverage`` is the recorder ``GET /__vbs__/coverage`` reports (its owner registers it on the plugin
        manager; resets do not clear it)."""
        self.project_id = project_id
        self._defaults = (TransitionMode(transitions), reads, seconds)
        self.state = State(transitions=TransitionMode(transitions), reads=reads, seconds=seconds)
        scheduler.install(self.state)  # backup policies run on the state's clock
        self.journal = Journal(max_bytes=journal_budget(journal_bytes))
        self.plugin_manager = plugin_manager or standalone_plugin_manager()
        self.hook = self.plugin_manager.hook
        #: The fake Keystone: users, projects, tokens (``identity.add_user(...)``, ``identity.issue_token(...)``).
        self.identity = Identity(project_id=project_id, auth=auth, projects=projects)
        self.app = VBSApp(self.state, self.journal, self.hook, max_body=max_body, identity=self.identity,
                          control=control, projects=projects, openapi=_openapi_document,
                          coverage=(lambda: coverage.report().as_json()) if coverage is not None else None)
        self.coverage = coverage
        self.faults = self.app.faults
        self.app.on_reset = self.reset
        self.server = VBSServer(self.app, host, port, idle_timeout=idle_timeout, max_connections=max_connections)

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> FakeVBS:
        self.plugin_manager.register(self.faults)
        self.server.start()
        self._configured()
        return self

    def stop(self) -> None:
        self.server.stop()
        if self.plugin_manager.is_registered(self.faults):
            self.plugin_manager.unregister(self.faults)

    def __enter__(self) -> FakeVBS:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Back to a clean fake: no volumes, snapshots, backups, journal entries or faults; default transitions."""
        self.app.reset()
        self.state.configure(transitions=self._defaults[0], reads=self._defaults[1], seconds=self._defaults[2])
        self._configured()

    @contextlib.contextmanager
    def isolated(self) -> Iterator[FakeVBS]:
        """A clean fake for one block, clean again after it: for each example of a hypothesis ``@given`` test, where
        the function-scoped ``vbs`` fixture cannot be used. In a test it applies the test's marks and strict mode
        (``with vbs_server.isolated() as fake:``); outside pytest it only resets."""
        if self.test_scope is not None:
            with self.test_scope(self) as fake:
                yield fake
            return
        self.reset()
        try:
            yield self
        finally:
            self.reset()

    def _configured(self) -> None:
        self.hook.pytest_vbs_configure(fake=self)

    def for_project(self, project_id: str) -> FakeVBS:
        """The same fake, seen from another project (for isolation and cross-project tests); the fake Keystone
        knows that project too (the default user can log in to it). A fake restricted to some projects
        (``projects=``) refuses any other with ``ValueError``."""
        served = self.app.projects
        if served is not None and project_id not in served:
            raise ValueError(f"project {project_id!r} is not served by this fake (it serves: "
                             f"{', '.join(sorted(served))})")
        self.identity.ensure_project(project_id)
        other = copy.copy(self)
        other.project_id = project_id
        return other

    # -- where it is ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:<port>``."""
        return self.server.url

    @property
    def endpoint(self) -> str:
        """The native V3 endpoint of this project: ``{url}/v3/{project_id}``."""
        return f"{self.url}/v3/{self.project_id}"

    @property
    def endpoint_v2(self) -> str:
        """The deprecated native v2 endpoint of this project: ``{url}/v2/{project_id}``."""
        return f"{self.url}/v2/{self.project_id}"

    @property
    def endpoint_v1(self) -> str:
        """The VBS job endpoint of this project: ``{url}/v1/{project_id}`` (``GET {endpoint_v1}/jobs/{job_id}``)."""
        return f"{self.url}/v1/{self.project_id}"

    @property
    def auth_url(self) -> str:
        """The identity v3 URL, ``{url}/identity/v3`` (user ``vbs-user``, password ``vbs-password``)."""
        return clients.auth_url(self)

    # -- auth and clients (pytest_vbs.clients) ---------------------------------------------------------
    @property
    def auth(self) -> bool:
        """Whether the API checks ``X-Auth-Token`` (401 without a valid token, 403 for another project's).
        Off by default; setting it lasts until the next reset (the fixture resets before each test)."""
        return self.identity.auth

    @auth.setter
    def auth(self, enabled: bool) -> None:
        self.identity.auth = enabled

    def issue_token(self, **kwargs: Any) -> str:
        """A token of the default user scoped to this fake's project (``identity.issue_token`` arguments)."""
        self.identity.ensure_project(self.project_id)
        return self.identity.issue_token(project_id=self.project_id, **kwargs)

    def clouds_yaml(self, *, auth_type: str = "password") -> dict[str, Any]:
        """clouds.yaml content with one cloud, ``vbs``; ``auth_type="none"`` for a cloud without Keystone."""
        return clients.clouds_yaml(self, auth_type=auth_type)

    def os_environ(self, *, auth_type: str = "password") -> dict[str, str]:
        """``OS_*`` variables pointing at the fake (``auth_type``: ``password``, ``none``, or cinderclient's
        ``noauth``)."""
        return clients.os_environ(self, auth_type=auth_type)

    def openstack_connection(self, **kwargs: Any) -> Connection:
        """An openstacksdk ``Connection`` to the fake; ``kwargs`` override the settings (``auth_type="none"``)."""
        return clients.openstack_connection(self, **kwargs)

    # -- seeding and state ---------------------------------------------------------------------------
    def add_volume(self, size: int = 10, status: str = "available", *, name: str | None = None) -> str:
        """Create a volume (disk) in this project; returns its id. ``status`` as VBS spells it (``in-use``)."""
        _check_seed("add_volume", "control_add_volume",
                    {"project_id": self.project_id, "size": size, "status": status, "name": name})
        return self.state.add_volume(self.project_id, size=size, status=status, name=name).id

    def add_snapshot(self, volume_id: str, *, status: str = "available", name: str | None = None) -> str:
        """Create a snapshot of ``volume_id``; returns its id."""
        _check_seed("add_snapshot", "control_add_snapshot",
                    {"project_id": self.project_id, "volume_id": volume_id, "status": status, "name": name})
        return self.state.add_snapshot(self.project_id, volume_id, status=status, name=name).id

    def add_backup(
        self,
        volume_id: str | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        status: str = "available",
        size: int | None = None,
        created_at: datetime | None = None,
        fail_reason: str | None = None,
    ) -> str:
        """Seed a backup directly, in any status and at any time (a volume is made when none is given).

        Past the API's 20 backups per volume it warns (:class:`SeedingWarning`): the API would refuse the next one."""
        backup = self.state.add_backup(
            self.project_id,
            volume_id=volume_id,
            name=name,
            description=description,
            status=status,
            size=size,
            created_at=created_at,
            fail_reason=fail_reason,
        )
        with self.state.lock:
            count = len(self.state.volume(self.project_id, backup.volume_id).backup_ids)
        if count > MAX_BACKUPS_PER_VOLUME:
            warnings.warn(f"add_backup: volume {backup.volume_id} now has {count} backups; the API refuses more "
                          f"than {MAX_BACKUPS_PER_VOLUME} per volume (VolumeBackup.0040)", SeedingWarning, stacklevel=2)
        return backup.id

    @property
    def backups(self) -> dict[str, Backup]:
        """This project's backups by id (copies: changing them changes nothing)."""
        with self.state.lock:
            return {k: copy.copy(v) for k, v in self.state.project(self.project_id).backups.items()}

    @property
    def jobs(self) -> dict[str, Job]:
        """This project's VBS-native jobs by id (``create_vbs_backup`` ... return their ids; copies)."""
        with self.state.lock:
            return copy.deepcopy(self.state.project(self.project_id).jobs)

    @property
    def volumes(self) -> dict[str, Volume]:
        with self.state.lock:
            return {k: copy.copy(v) for k, v in self.state.project(self.project_id).volumes.items()}

    @property
    def snapshots(self) -> dict[str, Snapshot]:
        with self.state.lock:
            return {k: copy.copy(v) for k, v in self.state.project(self.project_id).snapshots.items()}

    # -- lifecycle of backups --------------------------------------------------------------------------
    def set_transitions(
        self, mode: TransitionMode | str, reads: int | None = None, *, seconds: float | None = None
    ) -> None:
        """``"immediate"`` (default), ``"reads"`` (settle after ``reads`` reads, >= 1), ``"manual"`` (settle on
        ``advance()``) or ``"timed"`` (settle ``seconds`` of wall-clock time later, read or not)."""
        modes = [m.value for m in TransitionMode]
        if not isinstance(mode, TransitionMode) and mode not in modes:
            raise ValueError(unknown_name("transition mode", mode, modes))
        mode = TransitionMode(mode)
        if reads is not None and mode is not TransitionMode.READS:
            raise ValueError(f"reads={reads!r} applies only to the 'reads' mode, not {mode.value!r}")
        if reads is not None and (not isinstance(reads, int) or isinstance(reads, bool) or reads < 1):
            raise ValueError(f"reads must be an integer >= 1, not {reads!r}")
        if seconds is not None and mode is not TransitionMode.TIMED:
            raise ValueError(f"seconds is the delay of timed transitions, not of {mode.value!r} ones: "
                             f"set_transitions('timed', seconds={seconds!r})")
        self.state.configure(transitions=mode, reads=reads, seconds=seconds)

    def advance(self, backup_id: str | None = None, *, fail_reason: str | None = None) -> int:
        """Complete this project's pending transitions (or one backup's); with ``fail_reason`` they fail.

        Returns how many completed.
        """
        return self.state.advance(self.project_id, backup_id, fail_reason=fail_reason)

    def set_quota(self, *, backups: int | None = None, backup_gigabytes: int | None = None) -> None:
        """Set this project's backup quotas (-1 = unlimited, the default); creates beyond them fail."""
        limits = {"backups": backups, "backup_gigabytes": backup_gigabytes}
        self.state.set_quota(self.project_id, **{k: v for k, v in limits.items() if v is not None})

    def set_backup_error(self, backup_id: str, fail_reason: str = "Backup failed.") -> None:
        """Force a backup into ``error`` with ``fail_reason``."""
        self.state.set_backup_error(self.project_id, backup_id, fail_reason)

    # -- backup policies and the virtual clock (pytest_vbs.service.policies) ----------------------------------------
    def advance_clock(self, **delta: float) -> None:
        """Move the fake's clock forward by ``timedelta(**delta)`` (``days=3``, ``hours=1`` ...): every enabled
        backup policy runs at each of its scheduled times in between, in time order."""
        self.state.advance_clock(timedelta(**delta))

    def set_clock(self, at: datetime) -> None:
        """Freeze the fake's time at ``at`` (naive UTC); ``advance_clock`` then moves it on from there."""
        with self.state.lock:
            self.state.clock.frozen = at

    def add_policy(self, name: str = "policy", **settings: Any) -> str:
        """Seed a backup policy in this project without the API's rules; returns its id. ``settings``:
        ``start_time`` ("12:00"), ``frequency`` (1) or ``week_frequency``, ``rentention_num`` or
        ``rentention_day``, ``remain_first_backup_of_curMonth``, ``status`` ("ON"), ``time_zone``, ``tags``
        (a dict), ``volumes`` (ids to associate), ``default`` (the tenant's default policy: cannot be renamed)."""
        return seed_policy(self.state, self.project_id, name, **settings).id

    @property
    def policies(self) -> dict[str, Policy]:
        """This project's backup policies by id (:class:`pytest_vbs.Policy` copies: changing them changes nothing)."""
        with self.state.lock:
            return copy.deepcopy(self.state.project(self.project_id).policies)

    # -- failure injection ------------------------------------------------------------------------------
    def fail(
        self,
        operation: str = "*",
        status: int | None = None,
        *,
        times: int | None = None,
        probability: float | None = None,
        nth: int | None = None,
        delay: float | tuple[float, float] | None = None,
        fault: str | None = None,
        after_commit: bool = False,
        message: str | None = None,
        code: str | None = None,
        method: str | None = None,
        path: str | None = None,
        family: str | None = None,
        retry_after: int | None = None,
        seed: int = 0,
    ) -> FaultRule:
        """Make requests fail; returns the rule (its ``matched``/``served`` counters show what happened).

        ``operation`` is an operation name (``"create_backup"``) or ``"*"`` for any request (identity and version
        discovery included); ``family`` (``"native"``, ``"vbs"``, ``"identity"``, ``"discovery"``), ``method``
        and ``path`` (a regex searched in the URL path) narrow it. ``status`` answers with that status and the
        documented error envelope (``message``/``code`` override the defaults; ``retry_after`` adds
        ``Retry-After``); ``fault`` breaks the connection instead (``"connection_reset"``,
        ``"empty_response"``, ``"malformed_body"``, ``"slow_body"``, ``"hang"``; the body faults break the
        error response of ``status`` or, without one, the fake's real response); ``delay`` (seconds, or a
        ``(low, high)`` range drawn with ``seed``) waits first, and alone only adds latency. It fires every
        time, or ``times`` times then lets requests through, or only on the ``nth`` matching request, or
        with ``probability`` (seeded). By default the operation does not run; with ``after_commit=True``
        it takes effect and the client still sees the failure. No status, fault or delay means 500.
        A rule that could never fire, or a wrong type, is refused (``ValueError``/``TypeError``).
        """
        return self.faults.add(FaultRule(
            operation=operation, status=status, times=times, probability=probability, nth=nth, delay=delay,
            fault=fault, after_commit=after_commit, message=message, code=code, method=method, path=path,
            family=family, retry_after=retry_after, seed=seed,
        ))

    def fail_sequence(
        self,
        operation: str,
        outcomes: Sequence[int | str | dict[str, Any] | None],
        *,
        method: str | None = None,
        path: str | None = None,
        family: str | None = None,
    ) -> list[FaultRule]:
        """The n-th request matching ``operation`` (and ``method``/``path``/``family``) gets the n-th outcome,
        later ones the real behaviour: ``vbs.fail_sequence("get_job", [503, None, "connection_reset"])``.
        An outcome is ``None`` (the real behaviour), a status, a wire fault name, or a dict of ``fail``
        arguments (``{"status": 429, "retry_after": 2}``). Returns the rules made, one per outcome that is not
        ``None`` (each with ``nth`` set to its place)."""
        return self.faults.add_all(sequence_rules(operation, outcomes, method=method, path=path, family=family))

    def clear_faults(self) -> None:
        """Remove every fault rule (done automatically between tests)."""
        self.faults.clear()

    # -- journal ---------------------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request the fake answered since the last reset, oldest first (within the journal's byte budget:
        ``journal.evicted`` counts the oldest entries dropped to stay in it)."""
        return self.journal.entries()

    def assert_called(self, operation: str, times: int | None = None, json: Any = None) -> list[RecordedRequest]:
        """Fail unless ``operation`` was called (``times`` times) with a body containing ``json`` (a subset
        match); the message shows the nearest requests when none matched. Returns the matching requests."""
        return assertions.assert_called(self.requests, operation, times, json)

    def assert_not_called(self, operation: str) -> None:
        """Fail if ``operation`` was called."""
        assertions.assert_not_called(self.requests, operation)

    def last_request(self, operation: str) -> RecordedRequest:
        """The most recent request of ``operation`` (fails when there is none)."""
        return assertions.last_request(self.requests, operation)

    def har(self) -> dict[str, Any]:
        """The journal (every request since the last reset) as a HAR 1.2 document, for any HAR viewer."""
        return har.document(self.requests)

    def assert_all_requests_valid(self) -> None:
        """Fail listing every request sent since the reset that breaks the documented schemas."""
        assertions.assert_all_requests_valid(self.requests)


def _openapi_document(server_url: str) -> dict[str, Any]:
    """The control API's ``GET /__vbs__/openapi.json``: every operation, ``servers`` set to the fake's URL."""
    return openapi.document(server_url=server_url)


def _check_seed(verb: str, schema: str, fields: dict[str, Any]) -> None:
    """A seeding helper's arguments against the control API's schema for the same seeding: ``ValueError``."""
    body = {key: value for key, value in fields.items() if value is not None}
    problems = schemas.violations("requests", schema, body)
    if problems:
        raise ValueError(f"{verb}: " + "; ".join(f"{v.path} {v.rule}, got {v.value!r}" for v in problems))
