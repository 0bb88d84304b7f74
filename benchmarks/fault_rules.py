#!/usr/bin/env python
"""What fault rules cost a request: ``python benchmarks/fault_rules.py [--quick] [--rules N]``.

Median time of one in-process ``GET /v3/{project}/backups`` (werkzeug's test client on the application, no
sockets) with no rule, with N rules on other operations (the index skips them), with N ``"*"`` rules narrowed
by a method that never matches (each is looked at: the worst case) and with N rules on the operation itself.
Issue 15 item 17 measured 12-24 ms per request at 10 000 rules before rules were indexed by operation.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from werkzeug.test import Client

from pytest_vbs import FakeVBS
from pytest_vbs.api import OPERATIONS

OTHER_OPERATIONS = [op.name for op in OPERATIONS if op.journal and op.name != "list_backups"]


def per_request(fake: FakeVBS, calls: int, rounds: int) -> float:
    """Median over ``rounds`` of the mean time of one list, in milliseconds."""
    client = Client(fake.app)
    path = f"/v3/{fake.project_id}/backups"
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            assert client.get(path).status_code == 200
        samples.append((time.perf_counter() - started) / calls * 1000)
        fake.journal.clear()
    return statistics.median(samples)


def seeding(count: int) -> dict[str, Callable[[FakeVBS], object]]:
    return {
        "no rule": lambda fake: None,
        f"{count} rules on other operations": lambda fake: [
            fake.fail(OTHER_OPERATIONS[i % len(OTHER_OPERATIONS)], 503, path="never") for i in range(count)],
        f'{count} "*" rules (method DELETE: looked at, never match)': lambda fake: [
            fake.fail("*", 503, method="DELETE") for _ in range(count)],
        f"{count} rules on list_backups (never fire: nth past)": lambda fake: [
            fake.fail("list_backups", 503, nth=10**9) for _ in range(count)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that the script works")
    parser.add_argument("--rules", type=int, default=10_000, help="rules per case (default 10000)")
    options = parser.parse_args()
    count, calls, rounds = (100, 20, 3) if options.quick else (options.rules, 200, 7)
    print("| rules | ms per request |\n| --- | --- |")
    for label, seed in seeding(count).items():
        with FakeVBS() as fake:
            seed(fake)
            print(f"| {label} | {per_request(fake, calls, rounds):.3f} |")


if __name__ == "__main__":
    main()
