Feature: Policy changes
  The PMO lead sets the approval policy: the amount above which two fiscal officers must
  approve, the amount above which the sponsor must also approve, who signs off each gate,
  and who approves change requests. A change is an event with a reason; each act is
  judged by the policy in force when it happens.

  Background:
    Given a baselined project

  Scenario: A lower two-officer threshold applies to the next approvals
    When pmo sets the two-officer threshold to 10,000.00 because "internal audit finding 2026-04"
    And pm submits invoice INV-1 from "Dell Technologies" for 12,000.00 on HW-01
    And fiscal approves invoice INV-1
    Then invoice INV-1 is pending
    When fiscal2 approves invoice INV-1
    Then invoice INV-1 is approved
    And the latest event is signed by fiscal2

  Scenario: Acts already recorded keep the rules they were judged by
    Given invoice INV-2 from "Dell Technologies" for 12,000.00 on HW-01 has been approved
    When pmo sets the two-officer threshold to 10,000.00 because "internal audit finding 2026-04"
    Then invoice INV-2 is still approved
    And the rules in force before the change still required two officers only over 25,000.00
    And the rules in force now require two officers over 10,000.00

  Scenario: The change board approves change requests instead of the sponsor
    Given the baseline is locked
    When pmo makes pmo the change approver because "change board constituted"
    And pm submits a change request "More storage" adding 20,000.00 to HW-01
    And sponsor approves that change request
    Then it is refused as not-authorised saying "it needs the pmo role"
    And the log length is unchanged
    When pmo approves that change request
    Then line HW-01 has a budget of 70,000.00

  Scenario: A gate can require fewer signers
    Given gates G0 and G1 have passed
    When pmo requires only pmo to sign off G2 because "small project fast track"
    And pm requests the G2 review
    And pmo signs off the G2 review
    Then gate G2 has passed

  Scenario: A review keeps the signers required when it was requested
    Given gates G0 and G1 have passed
    And pm has requested the G2 review
    When pmo requires only pmo to sign off G2 because "small project fast track"
    And pmo signs off the G2 review
    Then gate G2 is still in-review

  Scenario: Only the PMO lead changes the policy
    When fiscal sets the two-officer threshold to 10,000.00 because "fewer approvals please"
    Then it is refused as not-authorised: "Fay Fiscal may not change the approval policy: it needs the pmo role, which they do not hold now"
    And the log length is unchanged

  Scenario: The sponsor threshold cannot be below the two-officer threshold
    When pmo sets the sponsor threshold to 20,000.00 because "more oversight"
    Then it is refused as validation: "the sponsor threshold cannot be below the two-officer threshold"
    And the log length is unchanged

  Scenario: A policy change needs a reason
    When pmo sets the two-officer threshold to 10,000.00 because ""
    Then it is refused as validation: "reason is required"
    And the log length is unchanged

  Scenario: A change that changes nothing is refused
    When pmo sets the two-officer threshold to 25,000.00 because "reaffirmed"
    Then it is refused as validation: "the policy already says this; nothing to change"
    And the log length is unchanged

  Scenario: A PMO lead whose role was revoked cannot change the policy
    Given the administrator has revoked pmo's pmo role
    When pmo sets the two-officer threshold to 10,000.00 because "audit finding"
    Then it is refused as not-authorised saying "Polly Lead may not change the approval policy"
    And the log length is unchanged
