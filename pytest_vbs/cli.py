"""``python -m pytest_vbs serve``: run the fake in the foreground until interrupted."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from pytest_vbs.fake import DEFAULT_PROJECT_ID, FakeVBS
from pytest_vbs.hookspecs import standalone_plugin_manager
from pytest_vbs.journal import DEFAULT_JOURNAL_BYTES, journal_bytes
from pytest_vbs.service.identity import DEFAULT_PASSWORD, DEFAULT_USERNAME
from pytest_vbs.service.lifecycle import DEFAULT_SECONDS, check_seconds
from pytest_vbs.service.models import TransitionMode
from pytest_vbs.wsgi.serving import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pytest-vbs", description="A faithful fake Volume Backup Service.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the fake VBS API until interrupted (Ctrl-C)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8776, help="port to bind, 0 for a free one (default: 8776)")
    serve.add_argument("--project-id", default=None,
                       help="the default user's project, used in the printed example (default: the first "
                            f"--only-project, else {DEFAULT_PROJECT_ID})")
    serve.add_argument("--transitions", choices=[m.value for m in TransitionMode], default="immediate",
                       help="when asynchronous status changes happen (default: immediate)")
    serve.add_argument("--reads", type=int, default=1, help="with --transitions reads: reads before settling")
    serve.add_argument("--seconds", type=_seconds, default=None,
                       help=f"with --transitions timed: seconds before settling (default: {DEFAULT_SECONDS})")
    serve.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                       help="import MODULE and register its pytest_vbs_* hooks (repeatable)")
    serve.add_argument("--auth", action="store_true",
                       help="check X-Auth-Token on the API (401/403) against the fake identity service "
                            "(default: off, any token works)")
    serve.add_argument("--only-project", action="append", metavar="ID", dest="projects",
                       help="serve only this project id (repeatable); other ids answer 404 (default: any id works)")
    serve.add_argument("--no-control", action="store_true",
                       help="turn the /__vbs__ control API off: its routes answer 404 like unknown routes")
    serve.add_argument("--journal-bytes", type=_journal_bytes, default=DEFAULT_JOURNAL_BYTES, metavar="SIZE",
                       help="memory budget of the request journal, e.g. 16MiB (at least 4MiB); the oldest entries "
                            "are evicted past it (default: 64MiB)")
    serve.add_argument("--idle-timeout", type=_positive(float), default=DEFAULT_IDLE_TIMEOUT, metavar="SECONDS",
                       help="close a connection silent this long: keep-alive, a partial request or body "
                            f"(default: {DEFAULT_IDLE_TIMEOUT:g})")
    serve.add_argument("--max-connections", type=_positive(int), default=DEFAULT_MAX_CONNECTIONS, metavar="N",
                       help="connections served at once; more are answered 503 and closed "
                            f"(default: {DEFAULT_MAX_CONNECTIONS})")
    serve.add_argument("--coverage", action="store_true",
                       help="record which documented outcomes the requests exercise: GET /__vbs__/coverage")
    return parser


def _journal_bytes(text: str) -> int:
    try:
        return journal_bytes(text, name="--journal-bytes")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    """An argparse ``type`` accepting a finite number above 0 of ``kind``."""
    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be above 0: {text!r}")
        return value

    convert.__name__ = kind.__name__
    return convert


def _seconds(text: str) -> float:
    try:
        return check_seconds(float(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a number of seconds >= 0: {text!r} ({error})") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.seconds is not None and args.transitions != TransitionMode.TIMED.value:
        parser.error("--seconds is the delay of --transitions timed")
    if args.project_id is None:
        args.project_id = args.projects[0] if args.projects else DEFAULT_PROJECT_ID
    plugins: list[object] = [importlib.import_module(name) for name in args.plugin]
    recorder = None
    if args.coverage:
        from pytest_vbs.coverage import CoverageRecorder  # deferred for import cost: only with --coverage

        recorder = CoverageRecorder()
        plugins.append(recorder)
    manager = standalone_plugin_manager(*plugins)
    fake = FakeVBS(args.host, args.port, project_id=args.project_id, transitions=args.transitions,
                   reads=args.reads, seconds=DEFAULT_SECONDS if args.seconds is None else args.seconds,
                   plugin_manager=manager, auth=args.auth, control=not args.no_control,
                   projects=args.projects, journal_bytes=args.journal_bytes,
                   idle_timeout=args.idle_timeout, max_connections=args.max_connections,
                   coverage=recorder)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with fake:
        print(f"pytest-vbs: fake VBS serving at {fake.url}", flush=True)
        print(f"  native V3 endpoint: {fake.endpoint}")
        print(f"  identity (Keystone v3): {fake.auth_url}  user {DEFAULT_USERNAME} / {DEFAULT_PASSWORD}, "
              f"project {fake.project_id}; token checks {'on' if fake.auth else 'off (any token works)'}")
        token = ""
        if fake.auth:  # the API and the control API want it; it survives resets (24 h)
            token = f" -H 'X-Auth-Token: {fake.issue_token()}'"
            print(f"  a token of {DEFAULT_USERNAME} for the API and the control API:{token}")
        print("  try:")
        if fake.app.control:
            print(f"    curl -s -X POST {fake.url}/__vbs__/volumes -H 'Content-Type: application/json'{token} "
                  f"-d '{{\"project_id\": \"{fake.project_id}\", \"size\": 10}}'")
        else:
            print("  control API (/__vbs__): off")
        print(f"    curl -s {fake.endpoint}/backups/detail{token}")
        print("  Ctrl-C to stop.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    print("pytest-vbs: stopped.", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
