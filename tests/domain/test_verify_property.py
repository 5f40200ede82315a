"""Property (issue 16): whatever acts people make, with whatever text they type, the ledger
they leave behind verifies clean -- no signature, actor binding, canonical-bytes or
snapshot check may fault a log that nobody tampered with."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from ledger.application import open_ledger
from ledger.snapshots import check_snapshots
from ledger.verify import DatabaseSource, verify_log
from tests.domain.helpers import CODE, World
from tests.domain.test_replay_property import COMMANDS, DAY0, RecordingApp, amounts, ops, pick

# Free text as people type it: any Unicode the domain accepts (it refuses the rest, and a
# refused command writes nothing), including escapes, quotes, non-BMP and combining marks.
texts = st.text(min_size=1, max_size=30)
TYPED = {
    "risk_text": lambda w, p, t: w.app.raise_risk(w.pm, CODE, title=t, probability=2, impact=3,
                                                  owner=t, mitigation=t),
    "expenditure_text": lambda w, p, t: w.app.submit_expenditure(
        w.pm, CODE, line=pick(p.lines, 0), amount="10.00", vendor=t, description=t,
        invoice_number=t[:20], invoice_date=DAY0),
    "issue_text": lambda w, p, t: w.app.raise_issue(w.pm, CODE, title=t, description=t,
                                                    severity="low", owner=t),
}
acts = st.one_of(ops.map(lambda o: ("op", o)), st.tuples(st.sampled_from(sorted(TYPED)), texts))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=st.lists(acts, min_size=5, max_size=40), unused=amounts)
def test_any_acts_leave_a_ledger_that_verifies_clean(template_db: Path, commands: list, unused) -> None:  # noqa: ANN001
    workdir = Path(tempfile.mkdtemp())
    try:
        shutil.copy(template_db, workdir / "l.db")
        url = f"sqlite:///{workdir / 'l.db'}"
        app = open_ledger(url, app_class=RecordingApp)  # snapshots every few events
        try:
            w = World(app, url)
            w.baseline()
            for kind, arg in commands:
                before = app.size()
                try:
                    if kind == "op":
                        op, i, j, amount = arg
                        COMMANDS[op](w, app.project(CODE), i, j, amount)
                    else:
                        TYPED[kind](w, app.project(CODE), arg)
                except DomainError:
                    assert app.size() == before
            report = verify_log(DatabaseSource(app), workers=1, extra_checks=(lambda: check_snapshots(app),))
            assert report.ok, report.faults[:5]
            assert report.events == app.size()
        finally:
            app.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
