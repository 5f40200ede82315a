Feature: Commitments
  A purchase order encumbers a budget line: once a fiscal officer approves it, its amount
  is no longer available for anything else. Invoices that cite it liquidate it; when the
  work is done the project manager closes it, or a fiscal officer releases it, and what
  was not used goes back to the line.

  Background:
    Given a baselined project

  Scenario: A fiscal officer approves a purchase order, which encumbers the line
    When pm submits purchase order PO-1001 to "Dell Technologies" for 12,000.00 on HW-01
    And fiscal approves purchase order PO-1001
    Then purchase order PO-1001 is open
    And line HW-01 has 38,000.00 available
    And the latest event is signed by fiscal

  Scenario: An invoice that cites the purchase order liquidates it
    Given an approved purchase order PO-1001 to "Dell Technologies" for 12,000.00 on HW-01
    When pm submits invoice INV-7 from "Dell Technologies" for 5,000.00 on HW-01 citing PO-1001
    And fiscal approves invoice INV-7
    Then purchase order PO-1001 has 7,000.00 remaining
    And line HW-01 has 38,000.00 available

  Scenario: Closing a purchase order gives its unused rest back to the line
    Given an approved purchase order PO-1001 to "Dell Technologies" for 12,000.00 on HW-01
    When pm closes purchase order PO-1001 because "all servers delivered"
    Then purchase order PO-1001 is closed
    And line HW-01 has 50,000.00 available

  Scenario: A fiscal officer releases a purchase order that will not be used
    Given an approved purchase order PO-1001 to "Dell Technologies" for 12,000.00 on HW-01
    When fiscal releases purchase order PO-1001 because "contract terminated for convenience"
    Then purchase order PO-1001 is released
    And line HW-01 has 50,000.00 available

  Scenario: Over 25,000.00 a purchase order needs two fiscal officers
    Given pm has submitted purchase order PO-2002 to "CDW Government" for 30,000.00 on HW-01
    When fiscal approves purchase order PO-2002
    Then purchase order PO-2002 is pending
    When fiscal2 approves purchase order PO-2002
    Then purchase order PO-2002 is open

  Scenario: The second approval cannot come from the officer who gave the first
    Given pm has submitted purchase order PO-2002 to "CDW Government" for 30,000.00 on HW-01
    And fiscal has approved purchase order PO-2002
    When fiscal approves purchase order PO-2002
    Then it is refused as segregation-of-duties: "Fay Fiscal already approved this; the next approval must come from a different person"
    And the log length is unchanged

  Scenario: A purchase order larger than the line is refused at approval
    Given pm has submitted purchase order PO-3003 to "Dell Technologies" for 20,000.00 on HW-01
    And an approved expenditure of 40,000.00 on HW-01
    When fiscal approves purchase order PO-3003
    Then it is refused as would-overdraw: "approval would overdraw line HW-01 by 10,000.00; available 10,000.00"
    And the log length is unchanged

  Scenario: Nobody approves a purchase order they submitted themselves
    Given fiscal2 also holds the pm role on the project
    And fiscal2 has submitted purchase order PO-4004 to "Esri" for 3,000.00 on HW-01
    When fiscal2 approves purchase order PO-4004
    Then it is refused as segregation-of-duties saying "they submitted it themselves"
    And the log length is unchanged

  Scenario: A purchase order number is used once per project
    Given pm has submitted purchase order PO-1001 to "Dell Technologies" for 1,000.00 on HW-01
    When pm submits purchase order PO-1001 to "CDW Government" for 2,000.00 on HW-01
    Then it is refused as duplicate: "purchase order PO-1001 already exists on IT-2026-014"
    And the log length is unchanged

  Scenario: A fiscal officer whose role was revoked cannot approve a purchase order
    Given pm has submitted purchase order PO-5005 to "Esri" for 3,000.00 on HW-01
    And the administrator has revoked fiscal2's fiscal role
    When fiscal2 approves purchase order PO-5005
    Then it is refused as not-authorised saying "Finn Fiscal may not approve commitments on IT-2026-014"
    And the log length is unchanged

  Scenario: A closed project takes no new purchase order
    Given the project is closed
    When pm submits purchase order PO-6006 to "Dell Technologies" for 1,000.00 on HW-01
    Then it is refused as project-closed saying "IT-2026-014 is closed"
    And the log length is unchanged
