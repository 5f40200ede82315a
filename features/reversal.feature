Feature: Reversal
  Nothing in the ledger is ever edited or deleted. A fiscal officer corrects an approved
  expenditure by reversing it, with a reason; the money goes back to the line, and the
  original approval stays in the log for the auditor.

  Background:
    Given a baselined project
    And invoice INV-500 from "Esri" for 8,000.00 on HW-01 has been approved

  Scenario: A fiscal officer reverses an approved invoice with a reason
    When fiscal2 reverses invoice INV-500 because "vendor credit memo CM-17: duplicate licence charge"
    Then invoice INV-500 is reversed
    And line HW-01 has 50,000.00 available
    And the latest event records the reason "vendor credit memo CM-17: duplicate licence charge"
    And the latest event is signed by fiscal2
    And the log grew by 1 event

  Scenario: The original approval stays in the history
    When fiscal2 reverses invoice INV-500 because "posted to the wrong project"
    Then invoice INV-500 is reversed
    And the approval of invoice INV-500 by fiscal is still on record

  Scenario: A correction is still possible after closeout
    Given the project is closed
    When fiscal reverses invoice INV-500 because "vendor refund received after closeout"
    Then invoice INV-500 is reversed

  Scenario: A reversal gives back what the invoice took from its purchase order
    Given an approved purchase order PO-1001 to "Dell Technologies" for 12,000.00 on HW-01
    And invoice INV-600 from "Dell Technologies" for 5,000.00 on HW-01 citing PO-1001 has been approved
    When fiscal reverses invoice INV-600 because "goods returned"
    Then purchase order PO-1001 has 12,000.00 remaining
    And line HW-01 has 30,000.00 available

  Scenario: A reversal needs a reason
    When fiscal reverses invoice INV-500 because ""
    Then it is refused as validation: "reason is required"
    And the log length is unchanged

  Scenario: Only an approved invoice can be reversed
    Given pm has submitted invoice INV-501 from "Esri" for 100.00 on HW-01
    When fiscal reverses invoice INV-501 because "not needed"
    Then it is refused as invalid-state: "expenditure EXP-0002 is pending; only approved can be acted on"
    And the log length is unchanged

  Scenario: An invoice cannot be reversed twice
    Given fiscal has reversed invoice INV-500
    When fiscal2 reverses invoice INV-500 because "again"
    Then it is refused as invalid-state: "expenditure EXP-0001 is reversed; only approved can be acted on"
    And the log length is unchanged

  Scenario: A project manager cannot reverse an expenditure
    When pm reverses invoice INV-500 because "I changed my mind"
    Then it is refused as not-authorised: "Pat Manager may not reverse expenditures on IT-2026-014: it needs the fiscal role, which they do not hold now"
    And the log length is unchanged

  Scenario: Nobody reverses an invoice they submitted themselves
    Given fiscal2 also holds the pm role on the project
    And fiscal2 has submitted invoice INV-700 from "Esri" for 700.00 on HW-01
    And fiscal has approved invoice INV-700
    When fiscal2 reverses invoice INV-700 because "typo in the amount"
    Then it is refused as segregation-of-duties saying "they submitted it themselves"
    And the log length is unchanged

  Scenario: A fiscal officer whose role was revoked cannot reverse
    Given the administrator has revoked fiscal's fiscal role
    When fiscal reverses invoice INV-500 because "duplicate"
    Then it is refused as not-authorised: "Fay Fiscal may not reverse expenditures on IT-2026-014: it needs the fiscal role, which they do not hold now"
    And the log length is unchanged
