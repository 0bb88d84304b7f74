"""When backup policies run: their scheduled times on the fake's virtual clock, and the clock listener that runs
every ``ON`` policy at each of its times when a test advances the clock (``FakeVBS`` installs it)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from pytest_vbs.service.models import Policy
from pytest_vbs.service.policies import run_policy
from pytest_vbs.service.state import State

#: Days of ``week_frequency``, in ``date.isoweekday() % 7`` order.
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def due_times(policy: Policy, after: datetime, until: datetime) -> list[datetime]:
    """The policy's scheduled times in ``(after, until]``: each ``start_time`` hour (UTC) of every local day the
    policy runs on (every ``frequency`` days from its anchor, or the ``week_frequency`` days)."""
    if until <= after:
        return []
    schedule = policy.scheduled_policy
    found = []
    day = after.date() - timedelta(days=1)
    while day <= until.date():
        for hour in schedule.hours:
            when = datetime.combine(day, time(hour))
            if after < when <= until and _runs_on(policy, policy.local(when).date()):
                found.append(when)
        day += timedelta(days=1)
    return sorted(found)


def _runs_on(policy: Policy, local_day: date) -> bool:
    schedule = policy.scheduled_policy
    if schedule.frequency is not None:
        return (local_day - policy.anchor).days % schedule.frequency == 0
    return WEEKDAYS[local_day.isoweekday() % 7] in (schedule.week_frequency or [])


@contextlib.contextmanager
def _clock_at(state: State, when: datetime) -> Iterator[None]:
    """Run with the fake's clock showing ``when`` (backups and tasks of a scheduled run carry its time)."""
    frozen = state.clock.frozen
    state.clock.frozen = when
    try:
        yield
    finally:
        state.clock.frozen = frozen


class Scheduler:
    """The clock listener: when a test advances the clock, every ``ON`` policy runs at each of its scheduled
    times in between, all policies of all projects in time order."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.last: datetime | None = None  #: where the previous advance ended (real time runs on in between)

    def __call__(self, old: datetime, new: datetime) -> None:
        start = self.last if self.last is not None and self.last <= old else old
        self.last = new
        with self.state.lock:
            due: list[tuple[datetime, datetime, str, str]] = []
            for project in self.state.projects():
                for policy in project.policies.values():
                    if policy.scheduled_policy.status == "ON":
                        due += [(when, policy.created_at, project.id, policy.id)
                                for when in due_times(policy, max(start, policy.since), new)]
            for when, _, project_id, policy_id in sorted(due):
                project = self.state.project(project_id)
                current = project.policies.get(policy_id)
                if current is not None:
                    with _clock_at(self.state, when):
                        run_policy(self.state, project, current, when)


def install(state: State) -> None:
    """Schedule the policies of ``state`` on its clock (once per state)."""
    with state.lock:
        if not any(isinstance(listener, Scheduler) for listener in state.clock_listeners):
            state.clock_listeners.append(Scheduler(state))
