Feature: Change requests
  Once G1 (planning) has passed, the baseline -- budget lines, milestones, deliverables --
  changes only through a change request: the project manager describes the cost,
  schedule and scope impact and why; the sponsor (or the change board the policy names)
  approves or rejects it. Approval applies the impacts to the baseline.

  Background:
    Given a baselined project
    And the baseline is locked

  Scenario: The sponsor approves a change request and the baseline moves
    When pm submits a change request "More storage" adding 20,000.00 to HW-01 and moving the finish of M-02 to 2026-02-27
    And sponsor approves the change request
    Then the change request is approved
    And line HW-01 has a budget of 70,000.00
    And milestone M-02 finishes on 2026-02-27
    And the latest event is signed by sponsor

  Scenario: A change request can open a new budget line
    When pm submits a change request "Staff training" opening the training line TR-01 "Staff training" with 15,000.00
    And sponsor approves the change request
    Then line TR-01 has a budget of 15,000.00
    And the project's total budget is 265,000.00

  Scenario: The sponsor rejects a change request with a reason
    Given pm has submitted a change request "More storage" adding 20,000.00 to HW-01
    When sponsor rejects the change request because "no funding this fiscal year"
    Then the change request is rejected
    And line HW-01 has a budget of 50,000.00

  Scenario: The project manager withdraws a pending change request
    Given pm has submitted a change request "More storage" adding 20,000.00 to HW-01
    When pm withdraws the change request because "the department found a workaround"
    Then the change request is withdrawn
    And line HW-01 has a budget of 50,000.00

  Scenario: After G1 a milestone cannot be moved without a change request
    When pm moves the finish of M-02 to 2026-02-27 because "vendor is late"
    Then it is refused as baseline-locked: "the baseline of IT-2026-014 is locked since G1 (planning) passed; submit a change request instead"
    And the log length is unchanged

  Scenario: A change request needs a justification
    When pm submits a change request "More storage" adding 20,000.00 to HW-01 justified by ""
    Then it is refused as validation: "justification is required"
    And the log length is unchanged

  Scenario: Nobody approves a change request they submitted themselves
    Given pm2 also holds the sponsor role on the project
    And pm2 has submitted a change request "More storage" adding 20,000.00 to HW-01
    When pm2 approves the change request
    Then it is refused as segregation-of-duties saying "they submitted it themselves"
    And the log length is unchanged

  Scenario: A fiscal officer cannot approve a change request
    Given pm has submitted a change request "More storage" adding 20,000.00 to HW-01
    When fiscal approves the change request
    Then it is refused as not-authorised: "Fay Fiscal may not approve change requests on IT-2026-014: it needs the sponsor role, which they do not hold now"
    And the log length is unchanged

  Scenario: A change cannot take a line below what is already spent
    Given an approved expenditure of 45,000.00 on HW-01
    And pm has submitted a change request "Cut hardware" adding -10,000.00 to HW-01
    When sponsor approves the change request
    Then it is refused as would-overdraw: "this change would overdraw line HW-01 by 5,000.00; available 5,000.00"
    And the log length is unchanged

  Scenario: A decided change request cannot be approved again
    Given pm has submitted a change request "More storage" adding 20,000.00 to HW-01
    And sponsor has rejected the change request
    When sponsor approves the change request
    Then it is refused as invalid-state: "change request CR-001 is rejected; only pending can be acted on"
    And the log length is unchanged

  Scenario: A sponsor whose role was revoked cannot approve a change request
    Given pm has submitted a change request "More storage" adding 20,000.00 to HW-01
    And the administrator has revoked sponsor's sponsor role
    When sponsor approves the change request
    Then it is refused as not-authorised saying "it needs the sponsor role, which they do not hold now"
    And the log length is unchanged

  Scenario: A closed project takes no change request
    Given the project is closed
    When pm submits a change request "More storage" adding 20,000.00 to HW-01
    Then it is refused as project-closed saying "IT-2026-014 is closed"
    And the log length is unchanged
