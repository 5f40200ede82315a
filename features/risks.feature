Feature: Risks and issues
  The project manager keeps the risk register (probability and impact from 1 to 5, an
  owner, a mitigation, a status) and the issue log (severity, escalation, resolution).

  Background:
    Given a baselined project

  Scenario: A project manager records a risk and reassesses it
    When pm raises the risk "Vendor staff turnover" with probability 4 and impact 5
    Then risk "Vendor staff turnover" is open with probability 4 and impact 5
    When pm reassesses risk "Vendor staff turnover" to probability 2 and status mitigating because "key personnel clause signed"
    Then risk "Vendor staff turnover" is mitigating with probability 2 and impact 5
    And the latest event records the reason "key personnel clause signed"

  Scenario: A risk that no longer applies is closed with a reason
    Given pm has raised the risk "Data centre power"
    When pm closes risk "Data centre power" because "new UPS installed"
    Then risk "Data centre power" is closed

  Scenario: An issue is escalated to the sponsor and then resolved
    When pm raises the high issue "Test environment down"
    And pm escalates the issue to "sponsor" because "vendor is not responding"
    Then the issue is escalated
    When pm resolves the issue with "vendor restored the environment; SLA credit claimed"
    Then the issue is resolved

  Scenario: Probability is a whole number from 1 to 5
    When pm raises the risk "Flood" with probability 6 and impact 3
    Then it is refused as validation: "probability must be a whole number from 1 to 5"
    And the log length is unchanged

  Scenario: An issue needs a known severity
    When pm raises the urgent issue "Printer jam"
    Then it is refused as validation: "severity must be one of: low, medium, high, critical (got 'urgent')"
    And the log length is unchanged

  Scenario: A closed risk cannot be closed again
    Given pm has raised the risk "Data centre power"
    And pm has closed risk "Data centre power"
    When pm closes risk "Data centre power" because "again"
    Then it is refused as invalid-state: "risk R-001 is closed; only open or mitigating or occurred can be acted on"
    And the log length is unchanged

  Scenario: An auditor reads the register but does not write to it
    When auditor raises the risk "Audit finding" with probability 2 and impact 2
    Then it is refused as not-authorised: "Otto Auditor may not manage risks on IT-2026-014: it needs the pm role, which they do not hold now"
    And the log length is unchanged

  Scenario: A project manager whose role was revoked cannot record risks
    Given the administrator has revoked pm2's pm role
    When pm2 raises the risk "Scope creep" with probability 3 and impact 3
    Then it is refused as not-authorised saying "Priya Manager may not manage risks"
    And the log length is unchanged

  Scenario: A closed project takes no new risks
    Given the project is closed
    When pm raises the risk "Late invoices" with probability 2 and impact 2
    Then it is refused as project-closed saying "accepts nothing but fiscal reversals"
    And the log length is unchanged
