Feature: Gates
  A project passes five gates in order: G0 initiation, G1 planning, G2 execution,
  G3 deployment and G4 closeout. The project manager requests a review with its
  artifacts; the roles the policy requires sign off (approved, approved with conditions,
  or rejected); the gate passes on the last required approval. After G4 the project is
  closed.

  Scenario: The PMO lead and the sponsor pass G0 after the project manager requests it
    Given a chartered project
    When pm requests the G0 review with "business-case.pdf"
    And pmo signs off G0 as approved
    And sponsor signs off G0 as approved
    Then gate G0 has passed
    And the project's next gate is G1
    And the latest event is signed by sponsor

  Scenario: Conditions given at sign-off stay with the passed gate
    Given a chartered project
    When pm requests the G0 review with "business-case.pdf"
    And pmo signs off G0 with the condition "security review before G2"
    And sponsor signs off G0 as approved
    Then gate G0 has passed with the condition "security review before G2"

  Scenario: A gate waits for every required sign-off
    Given a baselined project
    And gate G0 has passed
    When pm requests the G1 review with "project-management-plan.pdf"
    And pmo signs off G1 as approved
    And sponsor signs off G1 as approved
    Then gate G1 is in-review
    When fiscal signs off G1 as approved
    Then gate G1 has passed

  Scenario: A rejected review can be requested again
    Given a chartered project
    When pm requests the G0 review with "business-case.pdf"
    And sponsor rejects G0 because "the business case has no benefits measure"
    Then gate G0 is rejected
    When pm requests the G0 review with "business-case-v2.pdf"
    Then gate G0 is in-review in round 2

  Scenario: Passing G4 closes the project
    Given a baselined project
    And gates G0, G1, G2 and G3 have passed
    When pm requests the G4 review with "closeout-report.pdf"
    And fiscal signs off G4 as approved
    And pmo signs off G4 as approved
    And sponsor signs off G4 as approved
    Then the project is closed

  Scenario: A gate cannot be reviewed before the previous one has passed
    Given a baselined project
    When pm requests the G2 review with "signed-contract.pdf"
    Then it is refused as gate-out-of-order: "G2 (execution) cannot be reviewed before G1 (planning) has passed"
    And the log length is unchanged

  Scenario: G1 needs budget lines and milestones first
    Given a chartered project
    And gate G0 has passed
    When pm requests the G1 review with "project-management-plan.pdf"
    Then it is refused as invalid-state: "G1 (planning) needs budget lines and milestones in the baseline first"
    And the log length is unchanged

  Scenario: Nobody signs off a review they requested
    Given a chartered project
    And pm also holds the sponsor role on the project
    And pm has requested the G0 review
    When pm signs off G0 as approved
    Then it is refused as segregation-of-duties saying "they submitted it themselves"
    And the log length is unchanged

  Scenario: The same person cannot sign off a gate twice
    Given a chartered project
    And pmo also holds the sponsor role on the project
    And pm has requested the G0 review
    And pmo has signed off G0
    When pmo signs off G0 as approved
    Then it is refused as segregation-of-duties: "Polly Lead already signed off G0; each sign-off must come from a different person"
    And the log length is unchanged

  Scenario: An administrator signs off nothing
    Given a chartered project
    And admin also holds the sponsor role on the project
    And pm has requested the G0 review
    When admin signs off G0 as approved
    Then it is refused as segregation-of-duties saying "administrators approve nothing"
    And the log length is unchanged

  Scenario: A sign-off needs one of the roles the policy requires for the gate
    Given a chartered project
    And pm has requested the G0 review
    When auditor signs off G0 as approved
    Then it is refused as not-authorised saying "cannot sign off G0"
    And the log length is unchanged

  Scenario: A sponsor whose role was revoked cannot sign off
    Given a chartered project
    And pm has requested the G0 review
    And the administrator has revoked sponsor's sponsor role
    When sponsor signs off G0 as approved
    Then it is refused as not-authorised saying "cannot sign off G0"
    And the log length is unchanged

  Scenario: A closed project takes no further review
    Given a baselined project
    And the project is closed
    When pm requests the G4 review with "closeout-report-v2.pdf"
    Then it is refused as project-closed: "IT-2026-014 is closed (G4 closeout passed); it accepts nothing but fiscal reversals"
    And the log length is unchanged

  Scenario: Closeout waits until no purchase order is open and nothing awaits a decision
    Given a baselined project
    And gates G0, G1, G2 and G3 have passed
    And an approved purchase order PO-0012 to "Dell Technologies" for 500.00 on HW-01
    And pm has submitted invoice INV-31 from "Accenture" for 1,200.00 on LB-01
    And pm has submitted a change request "Extra training" adding 3,000.00 to LB-01
    When pm requests the G4 review with "closeout-report.pdf"
    Then it is refused as open-items: "cannot request G4 closeout: PO-0012 is still open (500.00 committed), EXP-0001 awaits approval, CR-001 is pending; close or release every purchase order and decide every pending item first"
    And the log length is unchanged
    When pm closes purchase order PO-0012 because "all servers delivered"
    And fiscal approves invoice INV-31
    And pm withdraws the change request because "moved to the next phase"
    And pm requests the G4 review with "closeout-report.pdf"
    Then gate G4 is in-review

  Scenario: The sign-off that would close the project waits for an invoice submitted during the review
    Given a baselined project
    And gates G0, G1, G2 and G3 have passed
    And pm has requested the G4 review
    And fiscal has signed off G4
    And pmo has signed off G4
    And pm has submitted invoice INV-40 from "Accenture" for 800.00 on LB-01
    When sponsor signs off G4 as approved
    Then it is refused as open-items: "cannot pass G4 closeout: EXP-0001 awaits approval; close or release every purchase order and decide every pending item first"
    And the log length is unchanged
    When fiscal2 approves invoice INV-40
    And sponsor signs off G4 as approved
    Then the project is closed

  Scenario: The PMO lead records that the conditions of a gate are met
    Given a chartered project
    And pm has requested the G0 review
    And pmo has signed off G0 with the condition "security review before G2"
    And sponsor has signed off G0
    When pmo records the condition "security review before G2" of G0 as met because "security office report SR-12 accepted"
    Then G0 has no open conditions
    And the latest event is signed by pmo
    And the latest event records the reason "security office report SR-12 accepted"

  Scenario: Only a condition that was set can be met
    Given a chartered project
    And pm has requested the G0 review
    And pmo has signed off G0 with the condition "security review before G2"
    And sponsor has signed off G0
    When sponsor records the condition "budget approved by council" of G0 as met because "council vote"
    Then it is refused as validation: "G0 of IT-2026-014 was not passed with the condition 'budget approved by council'; its conditions are: 'security review before G2'"
    And the log length is unchanged

  Scenario: The project manager who asked for the review does not confirm its conditions
    Given a chartered project
    And pm also holds the sponsor role on the project
    And pm has requested the G0 review
    And pmo has signed off G0 with the condition "security review before G2"
    And sponsor has signed off G0
    When pm records the condition "security review before G2" of G0 as met because "done"
    Then it is refused as segregation-of-duties: "Pat Manager may not confirm the conditions of G0: they submitted it themselves, so another person must"
    And the log length is unchanged
    And G0 still has the open condition "security review before G2"
