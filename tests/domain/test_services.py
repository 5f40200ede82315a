"""The service machinery: retries on version conflicts, snapshots, signatures."""

from functools import reduce

import pytest

from domain.errors import ConflictError, DomainError, NotAuthorisedError
from domain.project import Project, project_id
from domain.services import PMOApplication
from ledger.application import open_ledger
from ledger.errors import VersionConflictError
from ledger.verify import DatabaseSource, verify_log
from tests.domain.helpers import CODE, PW, refused


def test_a_version_conflict_is_retried_from_a_fresh_load(world):
    app = world.app
    world.baseline()
    other = open_ledger(world.url, app_class=PMOApplication)
    real_save = app.save
    calls = []

    def save_after_someone_else(*objs, **kw):
        if not calls:
            # Between our load and our save, another session adds a risk to the project.
            other.raise_risk(other.actor("pm2", PW), CODE, title="Other", probability=1, impact=1,
                             owner="o", mitigation="m")
        calls.append(1)
        return real_save(*objs, **kw)

    app.save = save_after_someone_else
    try:
        risk = app.raise_risk(world.pm, CODE, title="Mine", probability=2, impact=2, owner="o",
                              mitigation="m")
    finally:
        app.save = real_save
        other.close()
    assert len(calls) == 2 and risk == "R-002"
    assert set(app.project(CODE).risks) == {"R-001", "R-002"}


def test_a_command_decides_on_changes_made_elsewhere_since_the_last(world):
    """Commands leave the project, directory, key ring and policy warm for the next one;
    the next still decides on the latest state (another process's events included)."""
    app, pm = world.app, world.pm
    world.baseline()
    app.raise_risk(pm, CODE, title="A", probability=1, impact=1, owner="o", mitigation="m")
    world.elsewhere_pm2_raises_a_risk_and_pm_loses_the_role()
    refused(app, NotAuthorisedError, app.raise_risk, pm, CODE, title="C", probability=1, impact=1,
            owner="o", mitigation="m")
    assert app.raise_risk(world.pm2, CODE, title="C", probability=1, impact=1, owner="o",
                          mitigation="m") == "R-003"
    assert [r["title"] for r in app.project(CODE).risks.values()] == ["A", "B", "C"]


def test_a_refused_or_beaten_command_leaves_nothing_changed_warm(world):
    app = world.app
    world.baseline()
    real_save = app.save

    def beaten(*objs, **kw):
        raise VersionConflictError("someone else saved first")

    app.save = beaten
    try:
        with pytest.raises(ConflictError):
            app.raise_risk(world.pm, CODE, title="Lost", probability=1, impact=1, owner="o", mitigation="m")
    finally:
        app.save = real_save
    # The next command starts from the stored project, not one holding the lost risk.
    assert app.raise_risk(world.pm, CODE, title="Kept", probability=1, impact=1, owner="o",
                          mitigation="m") == "R-001"
    again = open_ledger(world.url, app_class=PMOApplication)
    try:
        assert [r["title"] for r in again.project(CODE).risks.values()] == ["Kept"]
    finally:
        again.close()


def test_endless_conflicts_give_up_with_a_named_error_and_write_nothing(world):
    app = world.app
    world.baseline()
    other = open_ledger(world.url, app_class=PMOApplication)
    real_save = app.save

    def always_beaten(*objs, **kw):
        other.raise_risk(other.actor("pm2", PW), CODE, title="Other", probability=1, impact=1,
                         owner="o", mitigation="m")
        return real_save(*objs, **kw)

    app.save = always_beaten
    try:
        with pytest.raises(ConflictError) as caught:
            app.raise_risk(world.pm, CODE, title="Mine", probability=2, impact=2, owner="o", mitigation="m")
    finally:
        app.save = real_save
        other.close()
    assert caught.value.code == "conflict"
    titles = [r["title"] for r in app.project(CODE).risks.values()]
    assert titles == ["Other"] * PMOApplication.max_attempts


def test_long_projects_are_snapshotted_and_load_the_same(world):
    app = world.app
    world.baseline()
    for i in range(100):
        app.raise_risk(world.pm, CODE, title=f"Risk {i}", probability=1, impact=1, owner="o", mitigation="m")
    pid = project_id(CODE)
    snapshots = list(app.snapshots.get(pid))
    assert [s.originator_version for s in snapshots] == [100]
    fresh = open_ledger(world.url, app_class=PMOApplication)
    try:
        replayed = reduce(lambda agg, e: e.mutate(agg), fresh.events.get(pid), None)
        assert fresh.repository.get(pid) == replayed == app.project(CODE)
        assert isinstance(replayed, Project) and replayed.version == 105
    finally:
        fresh.close()


def test_every_event_is_signed_by_the_actor_and_the_log_verifies(world):
    app = world.app
    world.locked()
    e = world.expenditure("10.00")
    app.approve_expenditure(world.fiscal, CODE, e)
    last = app.read_chain(app.size(), app.size())[0]
    assert last.key_id == world.fiscal.signer.key_id
    report = verify_log(DatabaseSource(app))
    assert report.ok, report


def test_every_domain_error_has_a_stable_code():
    import domain.errors as errors

    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, DomainError)]
    codes = [c.code for c in classes if c is not DomainError]
    assert len(codes) == len(set(codes))
    assert {"segregation-of-duties", "would-overdraw", "gate-out-of-order", "baseline-locked",
            "project-closed", "not-authorised", "not-found", "validation", "conflict",
            "threshold-approvals"} <= set(codes)
    err = errors.WouldOverdrawError("m", field="amount")
    assert err.as_dict() == {"code": "would-overdraw", "message": "m", "errors": {"amount": ["m"]}}
