"""Helpers for the domain tests: the cast, a chartered project, and `refused`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from domain.errors import DomainError
from domain.services import Actor, PMOApplication

PW = "test-passphrase-not-secret"
CODE = "IT-2026-014"
PEOPLE = [
    ("pm", "Pat Manager", "pm"),
    ("pm2", "Priya Manager", "pm"),
    ("fiscal", "Fay Fiscal", "fiscal"),
    ("fiscal2", "Finn Fiscal", "fiscal"),
    ("sponsor", "Sam Sponsor", "sponsor"),
    ("pmo", "Polly Lead", "pmo"),
    ("auditor", "Otto Auditor", "auditor"),
]

# Password hashing strength is werkzeug's business; tests only need it to work.
FAST_HASH = "pbkdf2:sha256:1000"


def enrol_cast(app: PMOApplication, root: Any, *, passphrase: str, password: str | None = None,
               reason: str = "test set-up", people: list[tuple[str, str, str]] = PEOPLE) -> Actor:
    """Open the directory with administrator Ada Admin, then enrol `people` with their roles.

    Every test set-up (domain, read models, features, API, web) starts from this cast."""
    admin = app.bootstrap(root, username="admin", name="Ada Admin", passphrase=passphrase,
                          password=password)
    for username, name, role in people:
        app.enrol_person(admin, username=username, name=name, passphrase=passphrase,
                         password=password)
        app.grant_role(admin, username, role, reason=reason)
    return admin


def add_baseline(app: Any, pm: Any, code: str) -> None:
    """Two budget lines (HW-01 50,000; LB-01 200,000) and two milestones (M-01 Design in the
    first half of 2025, M-02 Build in the second), added by the project manager `pm`."""
    app.add_budget_line(pm, code, line="HW-01", name="Servers", category="hardware",
                        amount="50000.00")
    app.add_budget_line(pm, code, line="LB-01", name="Developers", category="labour",
                        amount="200000.00")
    app.add_milestone(pm, code, milestone="M-01", name="Design", planned_start=date(2025, 1, 1),
                      planned_finish=date(2025, 6, 30), budgeted_value="100000.00")
    app.add_milestone(pm, code, milestone="M-02", name="Build", planned_start=date(2025, 7, 1),
                      planned_finish=date(2025, 12, 31), budgeted_value="150000.00")


class World:
    """The application and an Actor per person (admin, pm, pm2, fiscal, ...)."""

    def __init__(self, app: PMOApplication, url: str) -> None:
        self.app = app
        self.url = url
        self._actors: dict[str, Actor] = {}

    def __getattr__(self, username: str) -> Actor:
        if username.startswith("_"):
            raise AttributeError(username)
        return self.actor(username)

    def actor(self, username: str) -> Actor:
        if username not in self._actors:
            self._actors[username] = self.app.actor(username, PW)
        return self._actors[username]

    def charter(self, code: str = CODE, **overrides: Any) -> str:
        fields = dict(
            code=code, title="Online permits portal", sponsor="sponsor", project_manager="pm",
            business_relationship_manager="Bea Relations", objectives=["Permits online"],
            scope_statement="Building and street permits", start_date=date(2025, 1, 1),
            target_finish=date(2026, 6, 30), fund="General Fund", cost_centre="CC-4100",
            funding_type="capital",
        )
        fields.update(overrides)
        self.app.charter_project(self.pm, **fields)
        return code

    def baseline(self, code: str = CODE) -> str:
        """Charter with two lines (HW-01 50,000; LB-01 200,000) and two milestones."""
        self.charter(code)
        add_baseline(self.app, self.pm, code)
        return code

    def elsewhere_pm2_raises_a_risk_and_pm_loses_the_role(self, code: str = CODE) -> None:
        """Another process (an application of its own on the same database) records pm2's
        risk "B" and revokes pm's role: changes this world's application has not seen."""
        from ledger.application import open_ledger

        other = open_ledger(self.url, app_class=PMOApplication)
        try:
            other.raise_risk(other.actor("pm2", PW), code, title="B", probability=1, impact=1,
                             owner="o", mitigation="m")
            other.revoke_role(other.actor("admin", PW), "pm", "pm", reason="moved on")
        finally:
            other.close()

    def pass_gate(self, gate: str, code: str = CODE) -> None:
        self.app.request_gate_review(self.pm, code, gate, artifacts=[{"name": f"{gate}.pdf"}])
        for username in self.app.project(code).gates[gate]["required_roles"]:
            self.app.sign_off_gate(self.actor(username), code, gate, decision="approved")

    def locked(self, code: str = CODE) -> str:
        """A baselined project whose G0 and G1 passed (baseline locked)."""
        self.baseline(code)
        self.pass_gate("G0", code)
        self.pass_gate("G1", code)
        return code

    def expenditure(self, amount: str, *, line: str = "HW-01", invoice: str = "INV-1",
                    code: str = CODE, **kw: Any) -> str:
        return self.app.submit_expenditure(
            self.pm, code, line=line, amount=amount, vendor=kw.pop("vendor", "Dell Technologies"),
            invoice_number=invoice, invoice_date=kw.pop("invoice_date", date(2025, 3, 1)),
            description="servers", **kw)


def refused(app: PMOApplication, error: type[DomainError], command: Callable[..., Any],
            *args: Any, match: str | None = None, **kwargs: Any) -> DomainError:
    """Assert the command raises `error` (with its code) and the log did not grow."""
    before = app.size()
    with pytest.raises(error, match=match) as caught:
        command(*args, **kwargs)
    assert caught.value.code == error.code
    assert app.size() == before, "a refused command wrote to the log"
    return caught.value
