"""The people, the project and the steps every feature shares.

Each scenario runs on its own SQLite ledger: a copy of a template made once per session,
in which the administrator has enrolled everyone and granted their roles:

    admin (Ada Admin)       administrator
    pm (Pat Manager)        project manager       pm2 (Priya Manager)  project manager
    fiscal (Fay Fiscal)     fiscal officer        fiscal2 (Finn Fiscal) fiscal officer
    sponsor (Sam Sponsor)   sponsor               pmo (Polly Lead)      PMO lead
    auditor (Otto Auditor)  auditor

How a step acts:
- "Given" steps set the scene; they must succeed, or the scenario fails right there.
- "When" steps are the users' attempts: a refusal is caught and kept, with the log length
  before the attempt. A "Then it is refused as ..." step must claim it; any other step
  that follows an unclaimed refusal fails with the refusal's message, and so does the end
  of the scenario. A refusal is never silently swallowed.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import parse as parse_lib
import pytest
from pytest_bdd import given, parsers, then, when

from domain import clock as domain_clock
from domain.errors import DomainError
from domain.readmodels.service import ReadModels
from domain.services import Actor, PMOApplication
from ledger.application import init_ledger, open_ledger
from ledger.keys import PASSPHRASE_ENV
from tests.domain.helpers import FAST_HASH, add_baseline, enrol_cast

PW = "features-passphrase-not-secret"
CODE = "IT-2026-014"


@parse_lib.with_pattern(r'[^"]*')
def _quoted(text: str) -> str:
    return text


@parse_lib.with_pattern(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
def _code(text: str) -> str:
    return text


@parse_lib.with_pattern(r"-?[0-9][0-9,]*(\.[0-9]+)?")
def _amount(text: str) -> str:
    return text


CODED = re.compile(r"\{(line|po|invoice|milestone|gate|code|risk)\}")


def step(pattern: str) -> parsers.parse:
    """A step pattern in which every "{quoted}" text may be empty, {amount} is a number
    such as 1,250.00 and item codes ({line}, {po}, {invoice}...) hold no spaces."""
    pattern = re.sub(r'"\{(\w+)\}"', r'"{\1:q}"', pattern)
    pattern = CODED.sub(r"{\1:code}", pattern)
    pattern = pattern.replace("{amount}", "{amount:amount}")
    return parsers.parse(pattern, extra_types={"q": _quoted, "code": _code, "amount": _amount})


def money(text: str) -> Decimal:
    """'1,250.00' as a Decimal."""
    return Decimal(text.replace(",", ""))


def day(text: str) -> date:
    return date.fromisoformat(text)


class Ledger:
    """One scenario's ledger, its people, and what the last attempt did."""

    def __init__(self, app: PMOApplication) -> None:
        self.app = app
        self.code = CODE
        self._actors: dict[str, Actor] = {}
        self.error: DomainError | None = None
        self.size_before: int | None = None
        self.result: Any = None
        self.invoices: dict[str, str] = {}  # invoice number -> expenditure id
        self.change_request: str | None = None
        self.transfer: str | None = None
        self.risks: dict[str, str] = {}
        self.issue: str | None = None
        self.report: str | None = None
        self._invoice_seq = 0

    # People -------------------------------------------------------------------------------

    def actor(self, username: str) -> Actor:
        """The person's Actor, signing with the key they held when first asked for."""
        if username not in self._actors:
            self._actors[username] = self.app.actor(username, PW)
        return self._actors[username]

    def sign_in_again(self, username: str) -> Actor:
        self._actors.pop(username, None)
        return self.actor(username)

    # Acting --------------------------------------------------------------------------------

    def attempt(self, command: Callable[[], Any]) -> Any:
        """A user's attempt: a refusal is kept for a Then step to claim."""
        self.no_unclaimed_refusal()
        self.size_before = self.app.size()
        try:
            self.result = command()
        except DomainError as e:
            self.error = e
            self.result = None
        return self.result

    def no_unclaimed_refusal(self) -> None:
        if self.error is not None:
            e, self.error = self.error, None
            pytest.fail(f"the previous step was refused ({e.code}): {e.message}", pytrace=False)

    def claim(self) -> DomainError:
        if self.error is None:
            pytest.fail("expected a refusal, but the last command was accepted", pytrace=False)
        e, self.error = self.error, None
        return e

    # The project ----------------------------------------------------------------------------

    def project(self, code: str | None = None) -> Any:
        return self.app.project(code or self.code)

    def charter(self, code: str = CODE, by: str = "pm", **overrides: Any) -> str:
        fields: dict[str, Any] = dict(
            code=code, title="Online permits portal", sponsor="sponsor", project_manager=by,
            business_relationship_manager="Bea Relations", objectives=["Permits online"],
            scope_statement="Building and street permits", start_date=date(2025, 1, 1),
            target_finish=date(2026, 6, 30), fund="General Fund", cost_centre="CC-4100",
            funding_type="capital",
        )
        fields.update(overrides)
        self.app.charter_project(self.actor(by), **fields)
        return code

    def baseline(self) -> None:
        """Two budget lines (HW-01 50,000; LB-01 200,000) and two milestones."""
        add_baseline(self.app, self.actor("pm"), self.code)

    def pass_gate(self, gate: str) -> None:
        """The PM requests the review and every signer the policy requires approves."""
        self.app.request_gate_review(self.actor("pm"), self.code, gate,
                                     artifacts=[{"name": f"{gate}-review-pack.pdf"}])
        for role in self.project().gates[gate]["required_roles"]:
            signer = {"fiscal": "fiscal", "pmo": "pmo", "sponsor": "sponsor"}[role]
            self.app.sign_off_gate(self.actor(signer), self.code, gate, decision="approved")

    def submit_invoice(self, by: str, invoice: str, vendor: str, amount: str, line: str,
                       invoice_date: date = date(2025, 3, 1), po: str | None = None) -> str:
        expenditure_id = self.app.submit_expenditure(
            self.actor(by), self.code, line=line, amount=amount, vendor=vendor,
            invoice_number=invoice, invoice_date=invoice_date,
            description=f"{vendor} invoice {invoice}", po_number=po)
        self.invoices[invoice] = expenditure_id
        return expenditure_id

    def approve_fully(self, expenditure_id: str) -> None:
        """Every approval the policy asks for, in order: fiscal, fiscal2, sponsor."""
        for username in ("fiscal", "fiscal2", "sponsor"):
            if self.project().expenditure(expenditure_id)["status"] != "pending":
                return
            self.app.approve_expenditure(self.actor(username), self.code, expenditure_id)

    def next_invoice(self) -> str:
        self._invoice_seq += 1
        return f"SETUP-{self._invoice_seq:03d}"

    def latest_event(self) -> tuple[str, dict[str, Any]]:
        """(key id, payload) of the newest event in the log."""
        n = self.app.size()
        row = self.app.read_chain(n, n)[0]
        return row.key_id, json.loads(row.state)


# Fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def template_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger with everyone enrolled and their roles granted, made once."""
    path = tmp_path_factory.mktemp("features-template") / "ledger.db"
    mp = pytest.MonkeyPatch()
    mp.setenv(PASSPHRASE_ENV, PW)
    try:
        app, root = init_ledger(f"sqlite:///{path}", PW, app_class=PMOApplication)
        app.password_method = FAST_HASH
        enrol_cast(app, root, passphrase=PW, password="demo", reason="features set-up")
        app.close()
    finally:
        mp.undo()
    return path


@pytest.fixture
def world(template_ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    monkeypatch.setenv(PASSPHRASE_ENV, PW)
    path = tmp_path / "ledger.db"
    shutil.copy(template_ledger, path)
    app = open_ledger(f"sqlite:///{path}", app_class=PMOApplication)
    app.password_method = FAST_HASH
    ledger = Ledger(app)
    try:
        yield ledger
        ledger.no_unclaimed_refusal()
    finally:
        app.close()


def pytest_bdd_after_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    """A refusal nobody claimed fails the scenario (the fixture's teardown checks again)."""
    if "world" in request.fixturenames:
        request.getfixturevalue("world").no_unclaimed_refusal()


# Shared Given steps ----------------------------------------------------------------------------


@given("a chartered project")
def a_chartered_project(world: Ledger) -> None:
    world.charter()


@given("a baselined project")
def a_baselined_project(world: Ledger) -> None:
    world.charter()
    world.baseline()


@given(step("gate {gate:w} has passed"))
def gate_has_passed(world: Ledger, gate: str) -> None:
    world.pass_gate(gate)


@given(step("gates {gates} have passed"))
def gates_have_passed(world: Ledger, gates: str) -> None:
    for gate in gates.replace(" and ", ", ").split(", "):
        world.pass_gate(gate.strip())


@given("the baseline is locked")
def the_baseline_is_locked(world: Ledger) -> None:
    """G0 and G1 (planning) passed: the baseline changes only by change request now."""
    world.pass_gate("G0")
    world.pass_gate("G1")
    assert world.project().baseline_locked


@given("the project is closed")
def the_project_is_closed(world: Ledger) -> None:
    project = world.project()
    if not project.lines:
        world.baseline()
    for gate in ("G0", "G1", "G2", "G3", "G4"):
        if world.project().gates[gate]["status"] != "passed":
            world.pass_gate(gate)
    assert world.project().closed


@given(step("{user:w} also holds the {role:w} role on the project"))
def also_holds_role(world: Ledger, user: str, role: str) -> None:
    world.app.grant_role(world.actor("admin"), user, role, project=world.code,
                         reason="acting cover")


@given(step("the administrator has revoked {user:w}'s {role:w} role"))
def role_revoked(world: Ledger, user: str, role: str) -> None:
    world.actor(user)  # they still hold their key; only the role is gone
    world.app.revoke_role(world.actor("admin"), user, role, reason="moved to another department")


@given(step("an approved expenditure of {amount} on {line}"))
def an_approved_expenditure(world: Ledger, amount: str, line: str) -> None:
    invoice = world.next_invoice()
    world.approve_fully(world.submit_invoice("pm", invoice, "Dell Technologies", amount, line))


@given(step("an approved expenditure of {amount} on {line} invoiced {when}"))
def an_approved_expenditure_dated(world: Ledger, amount: str, line: str, when: str) -> None:
    invoice = world.next_invoice()
    world.approve_fully(world.submit_invoice("pm", invoice, "Accenture", amount, line,
                                             invoice_date=day(when)))


@given(step('{user:w} has submitted invoice {invoice} from "{vendor}" for {amount} on {line}'))
def has_submitted_invoice(world: Ledger, user: str, invoice: str, vendor: str, amount: str,
                          line: str) -> None:
    world.submit_invoice(user, invoice, vendor, amount, line)


@given(step('invoice {invoice} from "{vendor}" for {amount} on {line} has been approved'))
def invoice_has_been_approved(world: Ledger, invoice: str, vendor: str, amount: str, line: str) -> None:
    world.approve_fully(world.submit_invoice("pm", invoice, vendor, amount, line))


@given(step('{user:w} has submitted purchase order {po} to "{vendor}" for {amount} on {line}'))
def has_submitted_po(world: Ledger, user: str, po: str, vendor: str, amount: str, line: str) -> None:
    world.app.submit_commitment(world.actor(user), world.code, po_number=po, vendor=vendor,
                                line=line, amount=amount, description="master agreement")


@given(step('an approved purchase order {po} to "{vendor}" for {amount} on {line}'))
def an_approved_po(world: Ledger, po: str, vendor: str, amount: str, line: str) -> None:
    has_submitted_po(world, "pm", po, vendor, amount, line)
    for username in ("fiscal", "fiscal2", "sponsor"):
        if world.project().commitment(po)["status"] != "pending":
            break
        world.app.approve_commitment(world.actor(username), world.code, po)
    assert world.project().commitment(po)["status"] == "open"


@given(step('invoice {invoice} from "{vendor}" for {amount} on {line} citing {po} has been approved'))
def invoice_citing_po_approved(world: Ledger, invoice: str, vendor: str, amount: str, line: str,
                               po: str) -> None:
    world.approve_fully(world.submit_invoice("pm", invoice, vendor, amount, line, po=po))


# Shared When steps -----------------------------------------------------------------------------


@when(step('{user:w} submits invoice {invoice} from "{vendor}" for {amount} on {line}'))
def submits_invoice(world: Ledger, user: str, invoice: str, vendor: str, amount: str, line: str) -> None:
    world.attempt(lambda: world.submit_invoice(user, invoice, vendor, amount, line))


@when(step('{user:w} submits purchase order {po} to "{vendor}" for {amount} on {line}'))
def submits_po(world: Ledger, user: str, po: str, vendor: str, amount: str, line: str) -> None:
    world.attempt(lambda: world.app.submit_commitment(
        world.actor(user), world.code, po_number=po, vendor=vendor, line=line, amount=amount,
        description="master agreement"))


@when(step('{user:w} changes the budget of {line} to {amount} because "{reason}"'))
def changes_line_budget(world: Ledger, user: str, line: str, amount: str, reason: str) -> None:
    world.attempt(lambda: world.app.revise_budget_line(world.actor(user), world.code, line,
                                                       amount=amount, reason=reason))


@when(step("{user:w} approves invoice {invoice}"))
def approves_invoice(world: Ledger, user: str, invoice: str) -> None:
    world.attempt(lambda: world.app.approve_expenditure(world.actor(user), world.code,
                                                        world.invoices[invoice]))


@when(step('{user:w} rejects invoice {invoice} because "{reason}"'))
def rejects_invoice(world: Ledger, user: str, invoice: str, reason: str) -> None:
    world.attempt(lambda: world.app.reject_expenditure(world.actor(user), world.code,
                                                       world.invoices[invoice], reason=reason))


@when(step('{user:w} raises the risk "{title}" with probability {p:d} and impact {i:d}'))
def raises_risk(world: Ledger, user: str, title: str, p: int, i: int) -> None:
    def command() -> str:
        risk_id = world.app.raise_risk(world.actor(user), world.code, title=title, probability=p,
                                       impact=i, owner="Bea Relations",
                                       mitigation="weekly review with the vendor")
        world.risks[title] = risk_id
        return risk_id

    world.attempt(command)


# Shared Then steps -----------------------------------------------------------------------------


@then(step('it is refused as {code}: "{message}"'))
def refused_with_message(world: Ledger, code: str, message: str) -> None:
    error = world.claim()
    assert (error.code, error.message) == (code, message)


@then(step('it is refused as {code} saying "{fragment}"'))
def refused_saying(world: Ledger, code: str, fragment: str) -> None:
    error = world.claim()
    assert error.code == code, f"{error.code}: {error.message}"
    assert fragment in error.message, error.message


@then("the log length is unchanged")
def log_length_unchanged(world: Ledger) -> None:
    world.no_unclaimed_refusal()
    assert world.size_before is not None, "no command was attempted"
    assert world.app.size() == world.size_before


@then(step("the log grew by {n:d} event"))
@then(step("the log grew by {n:d} events"))
def log_grew_by(world: Ledger, n: int) -> None:
    world.no_unclaimed_refusal()
    assert world.app.size() - world.size_before == n


@then(step("the latest event is signed by {user:w}"))
def latest_signed_by(world: Ledger, user: str) -> None:
    world.no_unclaimed_refusal()
    key_id, payload = world.latest_event()
    assert payload["actor_id"] == user
    assert world.app.person(user)["key_id"] == key_id
    assert world.app.keyring().keys[key_id]["owner"] == user


@then(step('the latest event records the reason "{reason}"'))
def latest_reason(world: Ledger, reason: str) -> None:
    world.no_unclaimed_refusal()
    assert world.latest_event()[1]["reason"] == reason


@then(step("line {line} has {amount} available"))
def line_available(world: Ledger, line: str, amount: str) -> None:
    world.no_unclaimed_refusal()
    assert world.project().available(line) == money(amount)


@then(step("line {line} has a budget of {amount}"))
def line_budget(world: Ledger, line: str, amount: str) -> None:
    world.no_unclaimed_refusal()
    assert world.project().line(line)["budget"] == money(amount)


@then(step("the project's total budget is {amount}"))
def total_budget(world: Ledger, amount: str) -> None:
    world.no_unclaimed_refusal()
    assert world.project().totals()["budget"] == money(amount)


@then(step("invoice {invoice} is {status}"))
def invoice_status(world: Ledger, invoice: str, status: str) -> None:
    """'is approved', 'is still pending'..."""
    world.no_unclaimed_refusal()
    expected = status.removeprefix("still ")
    assert world.project().expenditure(world.invoices[invoice])["status"] == expected


@then(step("purchase order {po} is {status}"))
def po_status(world: Ledger, po: str, status: str) -> None:
    world.no_unclaimed_refusal()
    assert world.project().commitment(po)["status"] == status


@then(step("purchase order {po} has {amount} remaining"))
def po_remaining(world: Ledger, po: str, amount: str) -> None:
    world.no_unclaimed_refusal()
    assert world.project().commitment(po)["remaining"] == money(amount)


# Read models, the clock, and log positions (fiscal review, auditor replay, compliance) ----------


class ScenarioClock:
    """When acts are recorded. Real UTC time until a scenario says "it is ..."; from then
    on the domain clock is simulated (this thread only) and only ever moves forward, as
    recorded times do in a real log."""

    def __init__(self) -> None:
        self.at: datetime | None = None
        self._stack = ExitStack()

    def set(self, at: datetime) -> None:
        if self.at is None:
            self._stack.enter_context(domain_clock.simulated(lambda: self.at))  # type: ignore[arg-type,return-value]
        elif at < self.at:
            pytest.fail(f"the clock only moves forward: it is {self.at}, not {at}", pytrace=False)
        self.at = at

    def close(self) -> None:
        self._stack.close()


def instant(text: str) -> datetime:
    """'2026-03-02 09:00' (UTC) as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def scenario_clock() -> Iterator[ScenarioClock]:
    clock = ScenarioClock()
    try:
        yield clock
    finally:
        clock.close()


@pytest.fixture
def read_models(world: Ledger) -> ReadModels:
    """The scenario's read models, kept up to date incrementally from its ledger."""
    return ReadModels(world.app)


@pytest.fixture
def positions() -> dict[str, int]:
    """Log positions the scenario noted, by name ("INV-701 submitted")."""
    return {}


@given(step("it is {when} UTC"))
@when(step("it is {when} UTC"))
def it_is(scenario_clock: ScenarioClock, when: str) -> None:
    scenario_clock.set(instant(when))


@given(step('invoice {invoice} from "{vendor}" for {amount} on {line} dated {dated} has been approved'))
def invoice_dated_approved(world: Ledger, invoice: str, vendor: str, amount: str, line: str,
                           dated: str) -> None:
    expenditure_id = world.submit_invoice("pm", invoice, vendor, amount, line, invoice_date=day(dated))
    world.approve_fully(expenditure_id)
    assert world.project().expenditure(expenditure_id)["status"] == "approved"
