"""The event contract: explicit stable topics, versions, and who/meaning on every event."""

import dataclasses

import pytest
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import get_topic, resolve_topic

from domain.directory import Directory
from domain.policy import Policy
from domain.project import Project

AGGREGATES = (Project, Directory, Policy)
EVENTS = [
    (agg, cls) for agg in AGGREGATES for name, cls in vars(agg).items()
    if isinstance(cls, type) and issubclass(cls, CanMutateAggregate) and name not in ("Event", "Created")
]
NEEDS_REASON = {
    "CharterAmended", "DeliverableRemoved", "BudgetLineRevised", "BudgetLineRemoved",
    "MilestoneRevised", "MilestoneRemoved", "ChangeRequestRejected", "ChangeRequestWithdrawn",
    "BudgetTransferRequested", "BudgetTransferRejected", "CommitmentRejected", "CommitmentClosed",
    "CommitmentReleased", "ExpenditureRejected", "ExpenditureReversed", "RiskUpdated", "RiskClosed",
    "IssueEscalated", "RoleGranted", "RoleRevoked", "KeyReplaced", "PersonDeactivated", "Changed",
    "GateConditionsMet",
}


def test_there_are_events():
    assert len(EVENTS) >= 47


@pytest.mark.parametrize("aggregate, event", EVENTS, ids=lambda x: getattr(x, "__name__", str(x)))
def test_event_contract(aggregate, event):
    topic = event.TOPIC
    assert topic == f"{aggregate.TOPIC}.{event.__name__}"  # pinned, survives a move or rename
    assert get_topic(event) == topic and resolve_topic(topic) is event
    assert event.class_version >= 1
    assert event.__name__.endswith(("ed", "SignedOff", "Withdrawn", "Met"))  # past tense
    fields = {f.name for f in dataclasses.fields(event)}
    assert {"actor_id", "actor_name", "meaning", "timestamp"} <= fields
    if event.__name__ in NEEDS_REASON:
        assert "reason" in fields
    # Recorded times come from the domain clock (simulated only by the demo).
    assert event.create_timestamp.__qualname__ == "DomainEvent.create_timestamp"


def test_recorded_times_come_from_the_domain_clock():
    from datetime import UTC, datetime

    from domain.clock import is_simulated, simulated
    from domain.common import Who

    moment = datetime(2025, 3, 4, 15, 30, tzinfo=UTC)
    assert not is_simulated()
    with simulated(lambda: moment):
        assert is_simulated()
        policy = Policy.adopt(by=Who("root", "Root"))
        policy.change(changes={"pending_days_limit": 30}, by=Who("pmo", "P"), reason="r")
    assert [e.timestamp for e in policy.pending_events] == [moment, moment]
    assert not is_simulated()
    assert Policy.adopt(by=Who("root", "Root")).pending_events[0].timestamp > moment
    with simulated(lambda: datetime(2025, 3, 4)), pytest.raises(ValueError, match="timezone"):
        Policy.adopt(by=Who("root", "Root"))
