"""The domain behaves the same on SQLite and PostgreSQL (side tables, listing, refusals)."""

from datetime import date

from domain.errors import DuplicateError, WouldOverdrawError
from domain.services import PMOApplication
from ledger.application import init_ledger, open_ledger
from ledger.verify import DatabaseSource, verify_log
from tests.domain.helpers import CODE, refused


def test_end_to_end_on_each_backend(backend_url, passphrase):
    app, root = init_ledger(backend_url, passphrase, app_class=PMOApplication)
    try:
        admin = app.bootstrap(root, username="admin", name="Ada Admin", passphrase=passphrase,
                              password="demo")
        for username, role in (("pm", "pm"), ("fiscal", "fiscal")):
            app.enrol_person(admin, username=username, name=username.title(), passphrase=passphrase,
                             password="demo")
            app.grant_role(admin, username, role, reason="set-up")
        pm, fiscal = app.actor("pm", passphrase), app.actor("fiscal", passphrase)
        app.charter_project(pm, code=CODE, title="Permits", sponsor="s", project_manager="pm",
                            business_relationship_manager="b", objectives=["o"], scope_statement="s",
                            start_date=date(2025, 1, 1), target_finish=date(2025, 12, 31), fund="GF",
                            cost_centre="CC", funding_type="capital")
        refused(app, DuplicateError, app.charter_project, pm, code=CODE, title="Again", sponsor="s",
                project_manager="pm", business_relationship_manager="b", objectives=["o"],
                scope_statement="s", start_date=date(2025, 1, 1), target_finish=date(2025, 12, 31),
                fund="GF", cost_centre="CC", funding_type="capital")
        app.add_budget_line(pm, CODE, line="HW-01", name="Servers", category="hardware", amount="100.00")
        e = app.submit_expenditure(pm, CODE, line="HW-01", amount="150.00", vendor="Dell",
                                   invoice_number="1", invoice_date=date(2025, 2, 1), description="d")
        refused(app, WouldOverdrawError, app.approve_expenditure, fiscal, CODE, e)
        assert app.check_password("pm", "demo") and not app.check_password("pm", "nope")
        _, token = app.issue_api_token(pm, "pm", label="cli")
        assert app.user_for_token(token) == "pm"
    finally:
        app.close()
    again = open_ledger(backend_url, app_class=PMOApplication)
    try:
        assert [p.code for p in again.projects()] == [CODE]
        assert again.check_password("fiscal", "demo")
        assert verify_log(DatabaseSource(again)).ok
    finally:
        again.close()


def test_every_application_over_one_ledger_reads_the_same_log(backend_url, passphrase):
    """Regression: on PostgreSQL a subclass used to get its own events table (named after
    the class), so the verifier, the bundle and the bench (plain LedgerApplication) saw an
    empty or missing log next to the PMOApplication's events."""
    app, root = init_ledger(backend_url, passphrase, app_class=PMOApplication)
    try:
        app.bootstrap(root, username="admin", name="Ada Admin", passphrase=passphrase)
        size = app.size()
    finally:
        app.close()
    plain = open_ledger(backend_url)
    try:
        assert plain.size() == size > 2
        assert {r.topic.split(":")[0] for r in plain.read_chain(1, size)} >= {"domain.directory"}
        report = verify_log(DatabaseSource(plain), workers=2)
        assert report.ok and report.events == size
    finally:
        plain.close()
