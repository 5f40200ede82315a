"""The demo portfolio: `seed_demo` on SQLite, and `pmo-ledger demo`.

Seeding takes several seconds, so the portfolio is seeded once for the module; the tests
are marked slow but run in the default suite.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from uuid import UUID

import pytest
from click.testing import CliRunner
from eventsourcing.persistence import StoredEvent

from domain.compliance import evaluate
from domain.earned_value import figures
from domain.policy import GATES
from domain.project import project_id
from domain.services import PMOApplication
from ledger.application import init_ledger, open_ledger
from ledger.keys import PASSPHRASE_ENV
from ledger.verify import DatabaseSource, verify_log
from tests.conftest import DEMO_AS_OF, DEMO_PW, copy_demo
from tools.demo.command import demo_command
from tools.demo.seed import DEMO_PEOPLE, demo_present, plan_demo

pytestmark = pytest.mark.slow

PW = DEMO_PW
AS_OF = DEMO_AS_OF
T = "domain.project:Project."


@pytest.fixture(scope="module")
def demo(demo_template: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    mp = pytest.MonkeyPatch()
    mp.setenv(PASSPHRASE_ENV, PW)
    url = copy_demo(demo_template, tmp_path_factory.mktemp("demo"))
    app = open_ledger(url, app_class=PMOApplication)
    try:
        yield SimpleNamespace(app=app, url=url, summary=demo_template.summary, calls=demo_template.calls,
                              seconds=demo_template.seconds, projects=app.projects(),
                              wall=demo_template.wall)
    finally:
        app.close()
        mp.undo()


def test_the_portfolio_spans_every_gate_with_a_closed_an_over_budget_and_a_late_project(demo):
    projects = demo.projects
    rules = demo.app.rules()
    assert len(projects) >= 8
    assert sorted(p.code for p in projects) == demo.summary["projects"]
    closed = [p for p in projects if p.closed]
    assert closed and all(p.gates["G4"]["status"] == "passed" for p in closed)
    open_ = [p for p in projects if not p.closed]
    assert {p.next_gate for p in open_} == set(GATES), "every gate is the next one of some project"

    def ev(p):
        return figures(p, AS_OF)

    over = [p for p in open_ if ev(p)["cpi"] is not None and ev(p)["cpi"] < rules.variance_amber]
    late = [p for p in open_ if ev(p)["spi"] is not None and ev(p)["spi"] < rules.variance_amber]
    assert over, "one project is over budget (CPI in the red band)"
    assert late, "one project is behind schedule (SPI in the red band)"
    assert {p.code for p in over}.isdisjoint({p.code for p in late})
    for p in over:
        f = ev(p)
        assert f["ac"] > f["ev"]  # spent more than the work it earned
        assert any(cr["status"] == "approved" and cr["cost_impacts"] for cr in p.change_requests.values())
        assert any(t["status"] == "approved" for t in p.transfers.values())
    for p in late:
        assert any(cr["status"] == "pending" and cr["schedule_impacts"]
                   for cr in p.change_requests.values()), "the late project asks to re-baseline"


def test_it_holds_over_ten_thousand_events_of_every_kind(demo):
    app = demo.app
    assert demo.summary["events"] == app.size() >= 10_000
    topics = Counter(dict(app.recorder.fetch("SELECT topic, COUNT(*) FROM {events} GROUP BY topic")))
    for kind in ("Chartered", "CharterAmended", "BudgetLineAdded", "BudgetLineRevised",
                 "MilestoneAdded", "DeliverableAdded", "GateReviewRequested", "GateSignedOff",
                 "GatePassed", "Closed", "ChangeRequestSubmitted", "ChangeRequestApproved",
                 "ChangeRequestRejected", "ChangeRequestWithdrawn", "BudgetTransferRequested",
                 "BudgetTransferApproved", "CommitmentSubmitted", "CommitmentApproved",
                 "CommitmentClosed", "ExpenditureSubmitted", "ExpenditureApproved",
                 "ExpenditureRejected", "ExpenditureReversed", "ProgressReported",
                 "MilestoneAccepted", "RiskRaised", "RiskUpdated", "RiskClosed", "IssueRaised",
                 "IssueEscalated", "IssueResolved", "StatusReportPublished", "GateConditionsMet"):
        assert topics[T + kind] > 0, kind
    assert topics["domain.policy:Policy.Changed"] == 1
    assert topics["domain.directory:Directory.PersonEnrolled"] == len(DEMO_PEOPLE)


def test_hundreds_of_invoices_from_real_vendors_over_eighteen_months(demo):
    expenditures = [e for p in demo.projects for e in p.expenditures.values()]
    assert len(expenditures) >= 500
    vendors = Counter(e["vendor"] for e in expenditures)
    for vendor in ("Dell Technologies", "CDW Government", "Esri", "Tyler Technologies", "Accenture",
                   "Granicus"):
        assert vendors[vendor] > 0, vendor
    assert len(vendors) >= 15
    numbers = [(e["vendor"], e["invoice_number"]) for e in expenditures if e["status"] != "rejected"]
    assert len(numbers) == len(set(numbers)), "no vendor invoice is recorded twice"
    dates = sorted(e["invoice_date"] for e in expenditures)
    assert dates[-1] <= AS_OF and (dates[-1] - dates[0]).days >= 500
    assert (AS_OF - dates[-1]).days <= 10, "the history ends near today"
    assert all(len(e["document_sha256"]) == 64 for e in expenditures)
    statuses = Counter(e["status"] for e in expenditures)
    assert statuses["approved"] > 1000 and statuses["rejected"] and statuses["reversed"]
    assert statuses["pending"], "the fiscal officers have a queue to work on"
    big = [e for e in expenditures if e["status"] == "approved" and e["amount"] > 25000]
    assert big and all(len({a["actor_id"] for a in e["approvals"]}) >= 2 for e in big)
    closed = next(p for p in demo.projects if p.closed)
    assert any(e["status"] == "reversed" for e in closed.expenditures.values()), \
        "a correction after closeout"
    pos = Counter(c["status"] for p in demo.projects for c in p.commitments.values())
    assert pos["open"] and pos["closed"]


def test_progress_risks_and_status_reports_on_every_baselined_project(demo):
    baselined = [p for p in demo.projects if p.milestones]
    assert len(baselined) >= 8
    for p in baselined:
        assert p.status_reports, p.code
        assert p.risks, p.code
        assert any(m["progress"] for m in p.milestones.values()), p.code
    reports = [r for p in baselined for r in p.status_reports.values()]
    assert {r["overall"] for r in reports} >= {"green", "red"}
    assert all(r["figures"]["as_of"] == r["period_end"] for r in reports)


def test_the_log_verifies_clean(demo):
    report = verify_log(DatabaseSource(demo.app))
    assert report.ok, report.faults[:5]
    assert report.events == demo.app.size()


APPROVER_ROLES = {  # what the act needs the signer to be
    "ExpenditureApproved": {"fiscal", "sponsor"},
    "ExpenditureRejected": {"fiscal", "sponsor"},
    "ExpenditureReversed": {"fiscal"},
    "CommitmentApproved": {"fiscal", "sponsor"},
    "BudgetTransferApproved": {"fiscal", "sponsor"},
    "ChangeRequestApproved": {"sponsor"},
    "ChangeRequestRejected": {"sponsor"},
    "GateSignedOff": {"pmo", "sponsor", "fiscal"},
    "MilestoneAccepted": {"sponsor"},
    "ExpenditureSubmitted": {"pm"},
    "CommitmentSubmitted": {"pm"},
    "ChangeRequestSubmitted": {"pm"},
    "ProgressReported": {"pm"},
    "StatusReportPublished": {"pm"},
}


def test_every_act_is_signed_by_the_key_of_a_person_allowed_to_do_it(demo):
    app = demo.app
    ring, directory = app.keyring(), app.directory()
    pm_of = {str(project_id(p.code)): p.charter["project_manager"] for p in demo.projects}
    rows = app.read_chain(1, app.size(), tuple(T + kind for kind in APPROVER_ROLES))
    assert len(rows) > 8000
    checked = Counter()
    for row in rows:
        kind = row.topic.removeprefix(T)
        state = json.loads(row.state)
        who = state["actor_id"]
        assert ring.keys[row.key_id]["owner"] == who, (row.position, kind)
        assert directory.person(who)["key_id"] == row.key_id
        roles = set(directory.roles_of(who, None))
        assert roles & APPROVER_ROLES[kind], (row.position, kind, who)
        assert "admin" not in roles
        if "role" in state:
            assert state["role"] in roles
        if APPROVER_ROLES[kind] == {"pm"}:
            assert who == pm_of[row.originator_id], "the project's own manager submits"
        checked[kind] += 1
    assert set(checked) == set(APPROVER_ROLES)
    # Segregation of duties, over the whole history.
    for p in demo.projects:
        for e in p.expenditures.values():
            approvers = [a["actor_id"] for a in e["approvals"]]
            assert e["submitted_by"] not in approvers
            assert len(approvers) == len(set(approvers))


def test_one_user_per_role_who_can_log_in_and_sign(demo):
    app = demo.app
    assert [u for u, *_ in DEMO_PEOPLE] == ["admin", "pm", "pm2", "fiscal", "fiscal2", "sponsor",
                                            "pmo", "auditor"]
    for username, name, role, _ in DEMO_PEOPLE:
        assert app.check_password(username, "demo-pw")
        assert not app.check_password(username, "demo")
        assert app.person(username)["name"] == name
        assert app.directory().roles_of(username, None) == [role]
        assert app.actor(username, PW).user_id == username


def test_seeding_reports_progress_up_to_the_total_quickly(demo):
    done = [d for d, _ in demo.calls]
    totals = {t for _, t in demo.calls}
    assert len(totals) == 1 and done == sorted(done) and done[-1] == totals.pop()
    assert len(demo.calls) > 20
    assert demo.seconds < 120, f"seeding took {demo.seconds:.0f}s"


def test_the_plan_is_decided_by_the_seed():
    def shape(acts):
        return [(a.week, a.phase, a.actor, a.code) for a in acts]

    first, again = plan_demo(seed=2026, as_of=AS_OF), plan_demo(seed=2026, as_of=AS_OF)
    assert shape(first) == shape(again)
    assert shape(plan_demo(seed=7, as_of=AS_OF)) != shape(first)


def test_the_demo_command_leaves_a_seeded_ledger_alone(demo):
    before = demo.app.size()
    result = CliRunner().invoke(demo_command, ["--db", demo.url])
    assert result.exit_code == 0, result.output
    assert "already holds the demo portfolio" in result.output
    assert demo.app.size() == before
    assert demo_present(demo.app)


def test_the_demo_command_refuses_a_ledger_holding_something_else(tmp_path, monkeypatch):
    monkeypatch.setenv(PASSPHRASE_ENV, PW)
    url = f"sqlite:///{tmp_path / 'other.db'}"
    app, root = init_ledger(url, PW, app_class=PMOApplication)
    app.bootstrap(root, username="admin", name="Someone Else", passphrase=PW)
    before = app.size()
    result = CliRunner().invoke(demo_command, ["--db", url])
    assert result.exit_code == 1
    assert "not the demo portfolio" in result.output
    assert app.size() == before
    app.close()


def test_the_demo_command_seeds_prints_the_users_and_verifies(tmp_path: Path, monkeypatch):
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = CliRunner().invoke(demo_command, ["--db", url, "--password", "letmein"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "DEMO ONLY: key passphrase is" in out
    for username, name, role, _ in DEMO_PEOPLE:
        assert f"  {username:<10} {name:<18} {role:<8}" in out
    assert "password 'letmein'" in out
    assert "root key fingerprint (pin this): " in out
    assert "verification: clean" in out
    again = CliRunner().invoke(demo_command, ["--db", url])
    assert again.exit_code == 0 and "nothing to do" in again.output


def test_the_web_app_serves_the_demo_ledger(demo):
    from web.app import create_app
    from web.ledger_access import close_ledger

    app = create_app({"LEDGER_DB": demo.url, "SECRET_KEY": "demo-test", "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    try:
        assert client.get("/").status_code == 302  # sign in first
        assert client.post("/signin", data={"username": "pm", "password": "demo-pw"}).status_code == 302
        response = client.get("/")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert all(p.code in html for p in demo.projects)
    finally:
        close_ledger(app)


def _log(app):
    """(position, recorded_at, event) of every event, in log order."""
    out = []
    for row in app.read_chain(1, app.size()):
        stored = StoredEvent(originator_id=UUID(str(row.originator_id)),
                             originator_version=row.originator_version, topic=row.topic,
                             state=row.state)
        event = app.mapper.to_domain_event(stored)
        out.append((row.position, event.timestamp, event))
    return out


@pytest.fixture(scope="module")
def log(demo):
    return _log(demo.app)


BUSINESS_DATE = {"ExpenditureSubmitted": "invoice_date", "ProgressReported": "as_of",
                 "MilestoneAccepted": "accepted_on", "StatusReportPublished": "period_end"}


def test_acts_are_recorded_over_eighteen_months_in_log_order(demo, log):
    domain = [(pos, at, e) for pos, at, e in log if type(e).__module__.startswith("domain.")]
    times = [at for _, at, _ in domain]
    assert times == sorted(times), "recorded times never go backwards along the log"
    assert (times[-1] - times[0]).days >= 500
    assert times[-1] <= demo.wall, "nothing is recorded after the moment of seeding"
    assert times[-1].date() <= AS_OF
    office = Counter(13 <= at.hour < 23 and at.weekday() < 5 for at in times[len(DEMO_PEOPLE) * 2 + 2:])
    assert office[False] == 0, "project acts are recorded in office hours on working days"
    for _, at, e in domain:
        field = BUSINESS_DATE.get(type(e).__name__)
        if field is not None:
            lag = (at.date() - getattr(e, field)).days
            assert 0 <= lag <= 45, (type(e).__name__, getattr(e, field), at)


def test_the_compliance_check_finds_no_back_dated_acts(demo, log):
    found = Counter(f.rule_id for f in evaluate(log, today=AS_OF))
    assert found["TIME-001"] == 0
    assert found["PUR-003"] < 5 and found["APR-003"] == 0


def test_a_replay_as_of_an_instant_sees_part_of_the_history(demo, log):
    middle = datetime.combine(AS_OF - timedelta(days=270), datetime.min.time(), tzinfo=UTC)
    known = [e for _, at, e in log if at <= middle and type(e).__name__ == "Chartered"]
    assert 0 < len(known) < len(demo.projects)


def test_demo_plays_through_the_public_api_only():
    import inspect

    import tools.demo.seed

    source = inspect.getsource(tools.demo.seed)
    assert "app._" not in source and ".batch(" in source
