Feature: Status reports
  Each month the project manager publishes a status report: the period, a red / amber /
  green rating for overall, schedule, budget and scope, and a summary. The earned-value
  figures as of the end of the period are computed at publication and stored with it, so
  the report reads the same for ever.

  Background:
    Given a baselined project

  Scenario: A monthly report stores the earned-value figures as of the period's end
    Given pm reported milestone M-01 50% complete as of 2025-03-31
    And an approved expenditure of 40,000.00 on LB-01 invoiced 2025-03-15
    When pm publishes the status report for 2025-03-01 to 2025-03-31 rated green, green, green, green
    Then status report SR-001 shows PV 49,444.44, EV 50,000.00 and AC 40,000.00
    And status report SR-001 shows a CPI of 1.250 and an SPI of 1.011
    And the latest event is signed by pm

  Scenario: Invoices dated after the period do not count in its figures
    Given an approved expenditure of 10,000.00 on LB-01 invoiced 2025-04-02
    When pm publishes the status report for 2025-03-01 to 2025-03-31 rated green, green, green, green
    Then status report SR-001 shows PV 49,444.44, EV 0.00 and AC 0.00
    And status report SR-001 shows no CPI and an SPI of 0.000

  Scenario: A rating must be red, amber or green
    When pm publishes the status report for 2025-03-01 to 2025-03-31 rated purple, green, green, green
    Then it is refused as validation: "overall must be one of: green, amber, red (got 'purple')"
    And the log length is unchanged

  Scenario: A period cannot end before it starts
    When pm publishes the status report for 2025-03-31 to 2025-03-01 rated green, green, green, green
    Then it is refused as validation: "period_end 2025-03-01 is before period_start 2025-03-31"
    And the log length is unchanged

  Scenario: A fiscal officer does not publish status reports
    When fiscal publishes the status report for 2025-03-01 to 2025-03-31 rated green, green, green, green
    Then it is refused as not-authorised: "Fay Fiscal may not publish status reports on IT-2026-014: it needs the pm role, which they do not hold now"
    And the log length is unchanged

  Scenario: A project manager whose role was revoked cannot publish
    Given the administrator has revoked pm's pm role
    When pm publishes the status report for 2025-03-01 to 2025-03-31 rated green, green, green, green
    Then it is refused as not-authorised saying "Pat Manager may not publish status reports"
    And the log length is unchanged

  Scenario: A closed project publishes no more reports
    Given the project is closed
    When pm publishes the status report for 2025-03-01 to 2025-03-31 rated green, green, green, green
    Then it is refused as project-closed saying "IT-2026-014 is closed"
    And the log length is unchanged
