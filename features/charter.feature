Feature: Charter and amendment
  A project manager charters a project: its title, sponsor, objectives, scope, dates and
  funding. Later changes to the charter are amendments, each with a reason, so the PMO
  lead can always see what changed, who changed it and why.

  Scenario: A project manager charters a new project
    When pm charters project "IT-2026-020" titled "Library self-checkout" from 2026-01-05 to 2026-12-18
    Then project "IT-2026-020" exists with the title "Library self-checkout"
    And its next gate is G0
    And the log grew by 1 event
    And the latest event is signed by pm

  Scenario: A project manager amends the target finish with a reason
    Given a chartered project
    When pm amends the target finish to 2027-03-31 because "vendor delivery slipped by a quarter"
    Then the charter's target finish is 2027-03-31
    And the amendment keeps the previous target finish 2026-06-30
    And the latest event records the reason "vendor delivery slipped by a quarter"
    And the log grew by 1 event

  Scenario: An amendment without a reason is refused
    Given a chartered project
    When pm amends the target finish to 2027-03-31 because ""
    Then it is refused as validation: "reason is required"
    And the log length is unchanged

  Scenario: An amendment that changes nothing is refused
    Given a chartered project
    When pm amends the target finish to 2026-06-30 because "just checking"
    Then it is refused as validation: "the amendment changes nothing"
    And the log length is unchanged

  Scenario: The same project code cannot be chartered twice
    Given a chartered project
    When pm2 charters project "IT-2026-014" titled "Another portal" from 2026-01-05 to 2026-12-18
    Then it is refused as duplicate: "project IT-2026-014 already exists"
    And the log length is unchanged

  Scenario: A target finish before the start is refused
    When pm charters project "IT-2026-022" titled "Backwards" from 2026-12-18 to 2026-01-05
    Then it is refused as validation: "target_finish 2026-01-05 is before start_date 2026-12-18"
    And the log length is unchanged

  Scenario: A fiscal officer cannot charter a project
    When fiscal charters project "IT-2026-021" titled "Budget tool" from 2026-01-05 to 2026-12-18
    Then it is refused as not-authorised: "Fay Fiscal may not charter a project on IT-2026-021: it needs the pm role, which they do not hold now"
    And the log length is unchanged

  Scenario: The charter of a closed project cannot be amended
    Given a baselined project
    And the project is closed
    When pm amends the target finish to 2027-03-31 because "late paperwork"
    Then it is refused as project-closed: "IT-2026-014 is closed (G4 closeout passed); it accepts nothing but fiscal reversals"
    And the log length is unchanged

  Scenario: A project manager whose role was revoked cannot amend the charter
    Given a chartered project
    And the administrator has revoked pm's pm role
    When pm amends the target finish to 2027-03-31 because "vendor delivery slipped"
    Then it is refused as not-authorised: "Pat Manager may not amend the charter on IT-2026-014: it needs the pm role, which they do not hold now"
    And the log length is unchanged
