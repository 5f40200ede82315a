"""The read models of a ledger: kept up to date from the log, and the questions they answer.

    models = ReadModels(app)          # app: an open PMOApplication
    models.portfolio(as_of=date(2026, 3, 31))
    models.queue("fiscal")
    models.replay("IT-2026-014", instant=datetime(2026, 3, 1, tzinfo=UTC))

Every query first catches up with the log (cheap when nothing is new: two indexed reads),
so a user always sees their own write. Two projections are kept, each with its own
tracking row: the ledger tables, and the compliance findings (which cost more to judge
and are caught up only when asked for). A rebuild runs them one after the other, in
this process.

Verify first, then project: both catch up only as far as the ledger's integrity monitor
(`ledger.integrity.monitor_for(app)`) has verified the log clean, and never past a fault.
Where a running app shows faults itself (`ledger.integrity.tolerate`: a banner) they stop
there quietly; elsewhere a catch-up that stopped at a fault raises IntegrityFaultError
naming it (`on_fault` chooses: "stop" or "raise").
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from domain import clock as domain_clock
from domain import earned_value
from domain.common import ROLES
from domain.errors import NotFoundError, ValidationError
from domain.money import ZERO
from domain.readmodels import asof
from domain.readmodels.audit import AuditTrails
from domain.readmodels.findings import (
    DAY_KEY,
    ComplianceProjection,
    EvaluatorFactory,
    default_evaluator,
)
from domain.readmodels.projection import LedgerProjection
from domain.readmodels.runner import BATCH, IntegrityFaultError, Progress, Projector, follow
from domain.readmodels.store import Reader, ReadStore, instant_text, parse_instant
from domain.readmodels.views import (
    Approval,
    AuditEntry,
    EarnedValue,
    FindingRow,
    LineBudget,
    ProjectFacts,
    ProjectSummary,
    QueueItem,
)
from ledger.integrity import monitor_for

D = Decimal
REBUILD_BATCH = 50_000


@dataclass
class _View:
    """What one page's questions share (`ReadModels.one_view`)."""

    caught_up: bool = False
    facts: dict[str | None, list[ProjectFacts]] = field(default_factory=dict)
    plans: dict[str | None, dict[str, _Plan]] = field(default_factory=dict)


@dataclass
class _Plan:
    """What `domain.earned_value` reads from a project, rebuilt from the read models."""

    milestones: dict[str, dict[str, Any]]
    expenditures: dict[str, dict[str, Any]]


class ReadModels:
    """The read models of one open PMOApplication. `evaluator` makes the compliance rules
    engine for a given instant; `clock` is "now" (UTC) for default dates and for the
    time-based compliance rules; `batch` is how many positions one transaction takes.

    `integrity`: what says how far the log may be projected -- by default the ledger's
    integrity monitor (`ledger.integrity.monitor_for(app)`); False: the whole log, unchecked
    (benchmarks comparing the two). `on_fault`: "raise" (IntegrityFaultError) or "stop"
    (quietly, the fault left for the caller to show) once a catch-up stops at a fault;
    None: "stop" where a running app shows the ledger's faults (`ledger.integrity.tolerate`),
    else "raise"."""

    def __init__(self, app: Any, *, evaluator: EvaluatorFactory = default_evaluator,
                 clock: Callable[[], datetime] | None = None, batch: int = BATCH,
                 integrity: Any = None, on_fault: str | None = None) -> None:
        if on_fault not in (None, "raise", "stop"):
            raise ValueError(f"on_fault is 'raise' or 'stop', not {on_fault!r}")
        self.app = app
        self.clock = clock or domain_clock.now
        self.integrity = monitor_for(app) if integrity is None else (integrity or None)
        self.on_fault = on_fault
        gate = self.integrity.clean_head if self.integrity is not None else None
        self.store = ReadStore(app)
        self.ledger = Projector(app, LedgerProjection(app, self.store), self.store, batch, gate)
        self.audits = AuditTrails(app, self.store)
        self._findings = ComplianceProjection(self.store, evaluator, self.clock)
        # Larger batches for compliance: the rules engine re-judges everything per batch.
        self.compliance = Projector(app, self._findings, self.store, batch * 5, gate)
        self._views = threading.local()  # this thread's open `one_view`, if any

    # Keeping up with the log ---------------------------------------------------------------

    def catch_up(self, progress: Progress | None = None, limit: int | None = None) -> int:
        """Bring the ledger tables up to the end of the log; returns positions processed.
        Inside `one_view`, only the view's first call catches up."""
        view = self._view()
        if view is None or progress is not None or limit is not None:
            done = self.ledger.catch_up(progress, limit)
            self.check_integrity()
            return done
        if view.caught_up:
            return 0
        done = self.ledger.catch_up()
        view.caught_up = True
        self.check_integrity()
        return done

    def check_integrity(self) -> None:
        """Raise IntegrityFaultError if the ledger has a fault and faults are not left to
        the caller to show (see `on_fault`)."""
        monitor = self.integrity
        fault = monitor.fault if monitor is not None else None
        if fault is None:
            return
        if (self.on_fault or ("stop" if monitor.tolerant else "raise")) == "raise":
            raise IntegrityFaultError(fault, self.position())

    @contextlib.contextmanager
    def one_view(self) -> Iterator[None]:
        """The questions asked inside, by this thread, answer one page: the log is caught
        up with once (by the first), and a project's facts and earned-value plans are read
        once (the page shows the summary and the S-curve from the same plans). For a
        page that reads, never around a write: a write inside would not be seen by the
        view's later questions. Nested views are the outer one."""
        if self._view() is not None:
            yield
            return
        self._views.view = _View()
        try:
            yield
        finally:
            self._views.view = None

    def _view(self) -> _View | None:
        return getattr(self._views, "view", None)

    def catch_up_compliance(self, progress: Progress | None = None, batch: int | None = None) -> int:
        """Bring the compliance findings up to the end of the log (and to today)."""
        done = self.compliance.catch_up(progress, batch=batch)
        rows = self.store.fetch("SELECT value FROM {meta} WHERE name = ?", (DAY_KEY,))
        if self._findings.stale(rows[0][0] if rows else None):
            self.compliance.refresh()  # time-based rules: judged again on a new day
        self.check_integrity()
        return done

    def rebuild(self, progress: Progress | None = None) -> int:
        """Drop every read model and its tracking row, then rebuild all from position 1:
        the ledger tables in large batches, then the compliance findings in one batch
        (judged, and written, once rather than once per batch). Returns the tables'
        positions."""
        self._drop()
        done = self._load_tables(progress)
        self.catch_up_compliance(progress, batch=REBUILD_BATCH)
        return done

    def rebuild_tables(self, progress: Progress | None = None) -> int:
        """`rebuild` but for the compliance findings (they are judged on their own): drop
        the tables, load them from position 1 in large batches, then index them."""
        self._drop()
        return self._load_tables(progress)

    def rebuild_compliance(self, progress: Progress | None = None) -> int:
        """Judge the compliance findings again from position 1 in one batch (what
        `rebuild`'s child does), leaving the ledger tables as they stand."""
        self.store.ensure_tables()
        with self.compliance.exclusive():
            with self.store.writing(self.compliance.name) as w:
                w.run("DELETE FROM {findings}")
                w.forget(self.compliance.name)
            self.compliance.projection.reset(hard=True)
        return self.catch_up_compliance(progress, batch=REBUILD_BATCH)

    def _drop(self) -> None:
        with self.ledger.exclusive(), self.compliance.exclusive():
            self.store.drop_and_recreate([self.ledger.name, self.compliance.name], indexes=False)
            self._forget()

    def _forget(self) -> None:
        self.ledger.projection.reset(hard=True)
        self.compliance.projection.reset(hard=True)
        self.audits.clear()

    def _load_tables(self, progress: Progress | None) -> int:
        try:
            # Bigger batches than a catch-up's: fewer commits and project-state loads,
            # and nobody waits on a rebuild.
            return self.ledger.catch_up(progress, batch=REBUILD_BATCH)
        finally:
            self.store.create_indexes()  # after the bulk load: cheaper than row by row

    def follow(self, stop: threading.Event, poll: float = 1.0) -> None:
        """Keep both projections up to date until `stop` is set (a worker thread's loop)."""

        def step() -> int:
            self.catch_up()
            self.catch_up_compliance()
            return min(self.ledger.projection.at, self.compliance.projection.at)

        follow(self.app, self.store.postgres, stop, step, poll)

    def position(self) -> int:
        """The chain position the ledger tables stand at."""
        self.store.ensure_tables()
        return self.ledger.position_of(self.store.tracked(self.ledger.name))

    # Projects, budget, earned value ----------------------------------------------------------

    def facts(self, code: str | None = None) -> list[ProjectFacts]:
        self.catch_up()
        view = self._view()
        if view is not None and code in view.facts:
            return list(view.facts[code])
        sql, params = "SELECT * FROM {projects}", []
        if code is not None:
            sql, params = sql + " WHERE project = ?", [code]
        out = [_facts(r) for r in sorted(self.store.fetch(sql, params))]
        if view is not None:
            view.facts[code] = list(out)
        return out

    def portfolio(self, as_of: date | None = None) -> list[ProjectSummary]:
        """Every project's summary as of a business date (default today, UTC)."""
        return self._summaries(None, as_of)

    def summary(self, code: str, as_of: date | None = None) -> ProjectSummary:
        return self._summaries(code, as_of)[0]

    def _summaries(self, code: str | None, as_of: date | None) -> list[ProjectSummary]:
        t = as_of or self.today()
        facts = self._known(code)
        rules = asof.rules_on(self.store, self.app, t)
        plans = self._plans(code)
        out = []
        for f in facts:
            ev = _earned(plans.get(f.project), t)
            out.append(ProjectSummary(f, ev, ev.rag(rules)))
        return out

    def portfolio_earned_value(self, as_of: date | None = None,
                               summaries: Iterable[ProjectSummary] | None = None) -> dict[str, EarnedValue]:
        """Portfolio totals per currency: sums of BAC, PV, EV, AC; ratios of the sums.
        `summaries`: `portfolio(as_of)` where the caller has it already (computing every
        project's earned value again was a page's largest cost)."""
        totals: dict[str, EarnedValue] = {}
        for s in self.portfolio(as_of) if summaries is None else summaries:
            c = s.facts.currency
            totals[c] = totals[c] + s.earned_value if c in totals else s.earned_value
        return totals

    def budget(self, code: str | None = None) -> list[LineBudget]:
        """Budget by line: original, transfers, CR adjustments, current, committed, spent,
        pending, available."""
        self._known(code)
        sql, params = "SELECT * FROM {lines}", []
        if code is not None:
            sql, params = sql + " WHERE project = ?", [code]
        return [LineBudget(r[0], r[1], r[2], r[3], *(D(v) for v in r[4:]))
                for r in sorted(self.store.fetch(sql, params))]

    def earned_value(self, code: str, as_of: date | None = None) -> EarnedValue:
        return self.summary(code, as_of).earned_value

    def s_curve(self, code: str | None = None, dates: Iterable[date] | None = None) -> list[EarnedValue]:
        """Earned value of a project (or the whole portfolio: sums of PV, EV, AC, BAC) at
        each date -- by default each month end from the first start to the last target
        finish or today, whichever is later: the S-curve."""
        facts = self._known(code)
        if not facts:
            return []
        if len({f.currency for f in facts}) > 1:
            raise ValidationError("the portfolio mixes currencies; ask for one project's S-curve")
        plans = self._plans(code)
        points = list(dates) if dates is not None else curve_dates(
            min(f.start_date for f in facts),
            max(max(f.target_finish for f in facts), self.today()))
        return [_total([_earned(plans.get(f.project), t) for f in facts]) for t in points]

    def spent_by(self, code: str, business_date: date, known_at: datetime | None = None) -> Decimal:
        """Actual cost dated on or before `business_date`: as the log knows it now, or as
        it knew it at `known_at` (two clocks: invoice date vs recording instant)."""
        self._known(code)
        sql = "SELECT amount FROM {spend} WHERE project = ? AND invoice_date <= ?"
        params: list[Any] = [code, business_date.isoformat()]
        if known_at is not None:
            sql, params = sql + " AND recorded_at <= ?", [*params, instant_text(known_at)]
        return sum((D(r[0]) for r in self.store.fetch(sql, params)), ZERO)

    def replay(self, code: str, *, position: int | None = None, instant: datetime | None = None,
               business_date: date | None = None) -> asof.Replay:
        """The project as it stood at a log position or a UTC instant (see asof.py)."""
        self.catch_up()
        return asof.replay(self.app, self.store, code, position=position, instant=instant,
                           business_date=business_date)

    # Queues, approvals, audit, findings --------------------------------------------------------

    def queue(self, role: str) -> list[QueueItem]:
        """What waits for `role` (fiscal, sponsor, pmo...), oldest first."""
        if role not in ROLES:
            raise ValidationError(f"unknown role {role!r}; roles are {', '.join(ROLES)}", field="role")
        self.catch_up()
        rows = self.store.fetch("SELECT * FROM {queue} WHERE role = ? ORDER BY submitted_at, project, kind, item",
                                (role,))
        return [QueueItem(r[0], r[1], r[2], r[3], r[4], None if r[5] is None else D(r[5]), r[6],
                          None if r[7] is None else parse_instant(r[7]), r[8], r[9]) for r in rows]

    def approvals(self, code: str | None = None) -> list[Approval]:
        """Every act signed as an approval or a review: who (printed name), when, meaning."""
        self._known(code)
        sql, params = "SELECT * FROM {approvals}", []
        if code is not None:
            sql, params = sql + " WHERE project = ?", [code]
        rows = self.store.fetch(sql + " ORDER BY position", params)
        return [Approval(*r[:11], parse_instant(r[11]), r[12]) for r in rows]

    def audit_trail(self, code: str, field: str | None = None) -> list[AuditEntry]:
        """Field-level changes of a project -- all, one field (`lines.HW-01.spent`), or
        every field under a prefix (`lines.HW-01`, `lines`): old value, new value, who,
        when, why and the signing key's status then. Oldest first."""
        self._known(code)
        return self.audits.trail(code).entries(field)

    def audit_items(self, code: str) -> list[str]:
        """The items of a project that have an audit trail (`charter`, `lines.HW-01`...)."""
        self._known(code)
        return self.audits.trail(code).items()

    def findings(self, code: str | None = None) -> list[FindingRow]:
        """Compliance findings (rule, severity, project, message, evidence positions)."""
        self.catch_up_compliance()
        sql, params = "SELECT rule_id, severity, project, message, evidence, first_position FROM {findings}", []
        if code is not None:
            sql, params = sql + " WHERE project = ?", [code]
        rows = self.store.fetch(sql, params)
        out = [FindingRow(r[0], r[1], r[2], r[3], tuple(int(p) for p in r[4].split(",") if p))
               for r in rows]
        return sorted(out, key=lambda f: (f.evidence[:1], f.rule_id, f.project or "", f.evidence, f.message))

    # Helpers --------------------------------------------------------------------------------------

    def today(self) -> date:
        return self.clock().astimezone(UTC).date()

    def _known(self, code: str | None) -> list[ProjectFacts]:
        """Caught up; the project's facts (all projects' when code is None)."""
        facts = self.facts(code)
        if code is not None and not facts:
            raise NotFoundError(f"no project {code}", field="code")
        return facts

    def _plans(self, code: str | None) -> dict[str, _Plan]:
        """The plans (read only by the earned-value functions, never changed)."""
        view = self._view()
        if view is not None and code in view.plans:
            return view.plans[code]
        where, params = ("WHERE project = ? ", [code]) if code is not None else ("", [])
        with self.store.reading() as r:
            plans = _load_plans(r, where, params)
        if view is not None:
            view.plans[code] = plans
        return plans


def _load_plans(r: Reader, where: str, params: list[Any]) -> dict[str, _Plan]:
    plans: dict[str, _Plan] = {}
    for row in r.fetch(f"SELECT project, milestone, planned_start, planned_finish, budgeted_value "
                       f"FROM {{milestones}} {where}", params):
        plan = plans.setdefault(row[0], _Plan({}, {}))
        plan.milestones[row[1]] = {"planned_start": date.fromisoformat(row[2]),
                                   "planned_finish": date.fromisoformat(row[3]),
                                   "budgeted_value": D(row[4]), "progress": []}
    # In recording order: for one business date the later report wins (earned_value.py).
    for row in r.fetch(f"SELECT project, milestone, as_of, percent FROM {{progress}} {where}"
                       "ORDER BY position", params):
        m = plans[row[0]].milestones.get(row[1]) if row[0] in plans else None
        if m is not None:
            m["progress"].append({"as_of": date.fromisoformat(row[2]), "percent": int(row[3])})
    for row in r.fetch(f"SELECT project, position, invoice_date, amount FROM {{spend}} {where}", params):
        plan = plans.setdefault(row[0], _Plan({}, {}))
        # One signed movement per row: reversals are negative, so sums are net.
        plan.expenditures[str(row[1])] = {"status": "approved", "amount": D(row[3]),
                                          "invoice_date": date.fromisoformat(row[2])}
    return plans


def _earned(plan: _Plan | None, t: date) -> EarnedValue:
    p = plan or _Plan({}, {})
    return EarnedValue(t, earned_value.bac(p), earned_value.pv(p, t), earned_value.ev(p, t),
                       earned_value.ac(p, t))


def _total(values: list[EarnedValue]) -> EarnedValue:
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


def _facts(r: tuple) -> ProjectFacts:
    def day(v: str | None) -> date | None:
        return None if v is None else date.fromisoformat(v)

    return ProjectFacts(
        *r[:9], day(r[9]), day(r[10]), *(D(v) for v in r[11:18]), r[18], day(r[19]), r[20],
        None if r[21] is None else parse_instant(r[21]), int(r[22]), int(r[23]))  # type: ignore[arg-type]


# An S-curve has at most this many points, whatever its dates: ten years of month-ends.
MAX_CURVE_POINTS = 120


def curve_dates(start: date, end: date, limit: int = MAX_CURVE_POINTS) -> list[date]:
    """Month-ends from `start` to `end`; over a longer span every 2nd, 3rd... month-end
    (the last one always kept), so that a page's series stays bounded. Dates outside the
    business range (recorded before it was enforced) are cut to it."""
    from domain.validate import FIRST_BUSINESS_DATE, LAST_BUSINESS_DATE

    ends = month_ends(max(start, FIRST_BUSINESS_DATE), min(end, LAST_BUSINESS_DATE))
    step = -(-len(ends) // limit)
    if step <= 1:
        return ends
    return ends[len(ends) - 1::-step][::-1]


def month_ends(start: date, end: date) -> list[date]:
    """The last day of every month from `start`'s to `end`'s."""
    out, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        nxt = date(year + month // 12, month % 12 + 1, 1)
        out.append(date.fromordinal(nxt.toordinal() - 1))
        year, month = nxt.year, nxt.month
    return out
