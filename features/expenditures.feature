Feature: Expenditures and their approval
  The project manager submits vendor invoices against a budget line; a fiscal officer
  approves or rejects them. Over 25,000.00 two different fiscal officers must approve,
  and over 100,000.00 the sponsor as well. Nobody approves what they submitted, and no
  approval may take a line below zero available.

  Background:
    Given a baselined project

  Scenario: A fiscal officer approves an invoice
    When pm submits invoice INV-100 from "Dell Technologies" for 1,200.00 on HW-01
    And fiscal approves invoice INV-100
    Then invoice INV-100 is approved
    And line HW-01 has 48,800.00 available
    And the latest event is signed by fiscal

  Scenario: A fiscal officer rejects an invoice with a reason
    Given pm has submitted invoice INV-101 from "CDW Government" for 900.00 on HW-01
    When fiscal rejects invoice INV-101 because "missing proof of delivery"
    Then invoice INV-101 is rejected
    And the latest event records the reason "missing proof of delivery"
    And line HW-01 has 50,000.00 available

  Scenario: A rejection needs a reason
    Given pm has submitted invoice INV-102 from "CDW Government" for 900.00 on HW-01
    When fiscal rejects invoice INV-102 because ""
    Then it is refused as validation: "reason is required"
    And the log length is unchanged

  Scenario: Over 25,000.00 two different fiscal officers approve
    Given pm has submitted invoice INV-200 from "Accenture" for 30,000.00 on LB-01
    When fiscal approves invoice INV-200
    Then invoice INV-200 is pending
    When fiscal2 approves invoice INV-200
    Then invoice INV-200 is approved

  Scenario: Over 100,000.00 the sponsor approves after both fiscal officers
    Given pm has submitted invoice INV-201 from "Accenture" for 150,000.00 on LB-01
    When fiscal approves invoice INV-201
    And fiscal2 approves invoice INV-201
    Then invoice INV-201 is pending
    When sponsor approves invoice INV-201
    Then invoice INV-201 is approved
    And line LB-01 has 50,000.00 available

  Scenario: The sponsor cannot approve before the fiscal officers
    Given pm has submitted invoice INV-202 from "Accenture" for 150,000.00 on LB-01
    When sponsor approves invoice INV-202
    Then it is refused as threshold-approvals: "150,000.00 needs 2 fiscal approval(s) before the sponsor's; 0 given so far"
    And the log length is unchanged

  Scenario: An approval that would overdraw the line is refused
    Given an approved expenditure of 46,250.00 on HW-01
    And pm has submitted invoice INV-300 from "CDW Government" for 5,000.00 on HW-01
    When fiscal approves invoice INV-300
    Then it is refused as would-overdraw: "approval would overdraw line HW-01 by 1,250.00; available 3,750.00"
    And the log length is unchanged
    And invoice INV-300 is still pending

  Scenario: Nobody approves an invoice they submitted themselves
    Given fiscal2 also holds the pm role on the project
    And fiscal2 has submitted invoice INV-400 from "Esri" for 2,000.00 on HW-01
    When fiscal2 approves invoice INV-400
    Then it is refused as segregation-of-duties: "Finn Fiscal may not approve EXP-0001: they submitted it themselves, so another person must"
    And the log length is unchanged

  Scenario: The second approval cannot come from the officer who gave the first
    Given pm has submitted invoice INV-401 from "Accenture" for 30,000.00 on LB-01
    And fiscal has approved invoice INV-401
    When fiscal approves invoice INV-401
    Then it is refused as segregation-of-duties: "Fay Fiscal already approved this; the next approval must come from a different person"
    And the log length is unchanged

  Scenario: An administrator approves nothing, even holding a fiscal role
    Given admin also holds the fiscal role on the project
    And pm has submitted invoice INV-402 from "Esri" for 2,000.00 on HW-01
    When admin approves invoice INV-402
    Then it is refused as segregation-of-duties saying "administrators approve nothing"
    And the log length is unchanged

  Scenario: A fiscal officer whose role was revoked cannot approve
    Given pm has submitted invoice INV-403 from "Esri" for 2,000.00 on HW-01
    And the administrator has revoked fiscal's fiscal role
    When fiscal approves invoice INV-403
    Then it is refused as not-authorised: "Fay Fiscal may not approve expenditures on IT-2026-014: it needs the fiscal or sponsor role, which they do not hold now"
    And the log length is unchanged

  Scenario: The same vendor invoice cannot be submitted twice
    Given pm has submitted invoice INV-500 from "Dell Technologies" for 1,200.00 on HW-01
    When pm2 submits invoice INV-500 from "Dell Technologies" for 1,200.00 on HW-01
    Then it is refused as duplicate: "invoice INV-500 of Dell Technologies is already recorded as EXP-0001"
    And the log length is unchanged

  Scenario: An amount with fractions of a cent is refused, not rounded
    When pm submits invoice INV-501 from "Dell Technologies" for 12.345 on HW-01
    Then it is refused as validation: "amount 12.345 has more than two decimal places"
    And the log length is unchanged

  Scenario: An invoice on a line the project does not have is refused
    When pm submits invoice INV-502 from "Dell Technologies" for 100.00 on XX-99
    Then it is refused as not-found: "IT-2026-014 has no budget line XX-99"
    And the log length is unchanged

  Scenario: A closed project accepts no new invoices
    Given the project is closed
    When pm submits invoice INV-503 from "Dell Technologies" for 100.00 on HW-01
    Then it is refused as project-closed: "IT-2026-014 is closed (G4 closeout passed); it accepts nothing but fiscal reversals"
    And the log length is unchanged
