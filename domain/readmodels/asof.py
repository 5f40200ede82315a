"""A project as it stood at a log position or a UTC instant, and its figures then.

The project's last version at or before the moment is found in the read models' event
index, then `repository.get(id, version=v)` folds it from the nearest snapshot (one every
100 events), so even a project with 10,000 events replays in milliseconds. Its summary,
lines and earned value come from the same functions the projection uses, so "as of the
last position" and the maintained read models agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from domain import earned_value
from domain.errors import NotFoundError, ValidationError
from domain.policy import DEFAULT_RULES, Rules
from domain.project import Project, project_id
from domain.readmodels import derive
from domain.readmodels.store import ReadStore, instant_text, parse_instant
from domain.readmodels.views import EarnedValue, LineBudget, ProjectSummary


@dataclass(frozen=True)
class Replay:
    """A project at a moment: the moment (last position and its instant), the aggregate."""

    code: str
    position: int  # the log position asked for (or the last one recorded by the instant)
    recorded_at: datetime  # when that position was recorded
    project_position: int  # the project's own last position up to then
    project: Project
    summary: ProjectSummary
    lines: list[LineBudget]


def earned_from_project(p: Project, t: date) -> EarnedValue:
    return EarnedValue(t, earned_value.bac(p), earned_value.pv(p, t), earned_value.ev(p, t),
                       earned_value.ac(p, t))


def end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, UTC)


def rules_on(store: ReadStore, app: Any, day: date, upto: int | None = None) -> Rules:
    """The rules in force at the end of `day` (as the log knew them up to position `upto`)."""
    sql = "SELECT rules FROM {policy} WHERE effective_from <= ?"
    params: list[Any] = [instant_text(end_of(day))]
    if upto is not None:
        sql += " AND position <= ?"
        params.append(upto)
    rows = store.fetch(sql + " ORDER BY position DESC LIMIT 1", params)
    if not rows:
        return Rules(**DEFAULT_RULES)
    return Rules(**app.mapper.transcoder.decode(rows[0][0].encode()))


def summary_of(p: Project, position: int, t: date, rules: Rules) -> ProjectSummary:
    ev = earned_from_project(p, t)
    return ProjectSummary(derive.project_facts(p, position), ev, ev.rag(rules))


def moment(store: ReadStore, *, position: int | None, instant: datetime | None) -> tuple[int, datetime]:
    """(last position, its recording instant) of the moment asked for."""
    if (position is None) == (instant is None):
        raise ValidationError("give either a log position or a UTC instant, not both")
    if position is not None:
        rows = store.fetch("SELECT position, recorded_at FROM {events} WHERE position = ? "
                           "AND recorded_at <> ''", (position,))
        if position < 1 or not rows:
            raise ValidationError(f"position {position} is not in the log (or its event cannot be "
                                  "read)", field="position")
    else:
        # (A position whose event is missing has no recording time: "" is not an instant.)
        rows = store.fetch("SELECT position, recorded_at FROM {events} WHERE recorded_at <= ? "
                           "AND recorded_at <> '' ORDER BY position DESC LIMIT 1",
                           (instant_text(instant),))  # type: ignore[arg-type]
        if not rows:
            raise ValidationError(f"the log holds nothing recorded by {instant_text(instant)}",  # type: ignore[arg-type]
                                  field="as_of")
    return int(rows[0][0]), parse_instant(rows[0][1])


def last_version(app: Any, store: ReadStore, aggregate_id: UUID, position: int) -> tuple[int, int] | None:
    """(version, position) of the aggregate's last event at or before `position`.

    Walks the aggregate's own events newest first through the event store's primary key,
    each joined to its chain row by the chain's unique notification id: no scan, and no
    index the read models would have to maintain."""
    return app.last_version_at(aggregate_id, position)  # type: ignore[no-any-return]


def replay(app: Any, store: ReadStore, code: str, *, position: int | None = None,
           instant: datetime | None = None, business_date: date | None = None) -> Replay:
    """Project `code` as it stood at `position` or `instant`; earned value as of
    `business_date` (default: the UTC date of that moment)."""
    at, recorded_at = moment(store, position=position, instant=instant)
    pid = project_id(code)
    found = last_version(app, store, pid, at)
    if found is None:
        raise NotFoundError(f"project {code} did not exist at position {at}", field="code")
    version, project_position = found
    project = app.repository.get(pid, version=version)
    t = business_date or recorded_at.date()
    summary = summary_of(project, project_position, t, rules_on(store, app, t, at))
    return Replay(project.code, at, recorded_at, project_position, project, summary,
                  derive.line_budgets(project))
