Feature: The fiscal officer's review
  Fay Fiscal and Finn Fiscal work through the fiscal review queue: every invoice, purchase
  order and budget transfer waiting for a fiscal officer, oldest first, with its amount and
  what each line it touches has available before and after. A decision shows in the queue
  and in the budget by line the moment it is made. Over 25,000.00 an invoice needs two
  different fiscal officers.

  The project's baseline: HW-01 "Servers" 50,000.00 and LB-01 "Developers" 200,000.00.

  Scenario: The queue shows what waits, with each line's balance before and after
    Given a baselined project
    And pm has submitted invoice INV-101 from "Dell Technologies" for 12,000.00 on HW-01
    And pm has submitted purchase order PO-7 to "Accenture" for 30,000.00 on LB-01
    And pm has requested a transfer of 5,000.00 from HW-01 to LB-01
    When fiscal opens the fiscal review queue
    Then the queue shows, oldest first:
      | item                | amount    | line  | available before | available after | approvals so far |
      | invoice INV-101     | 12,000.00 | HW-01 | 50,000.00        | 38,000.00       | 0                |
      | purchase order PO-7 | 30,000.00 | LB-01 | 200,000.00       | 170,000.00      | 0                |
      | transfer TR-001     | 5,000.00  | HW-01 | 50,000.00        | 45,000.00       | 0                |
      | transfer TR-001     | 5,000.00  | LB-01 | 200,000.00       | 205,000.00      | 0                |

  Scenario: An approval leaves the queue and shows in the budget at once
    Given a baselined project
    And pm has submitted invoice INV-101 from "Dell Technologies" for 12,000.00 on HW-01
    And fiscal has seen invoice INV-101 in the fiscal review queue
    And the budget by line shows HW-01 with spent 0.00, pending 12,000.00 and available 50,000.00
    When fiscal approves invoice INV-101
    Then the fiscal review queue is empty
    And the budget by line shows HW-01 with spent 12,000.00, pending 0.00 and available 38,000.00

  Scenario: A rejection leaves the queue and frees the pending amount
    Given a baselined project
    And pm has submitted invoice INV-102 from "Dell Technologies" for 3,000.00 on HW-01
    And fiscal has seen invoice INV-102 in the fiscal review queue
    When fiscal rejects invoice INV-102 because "no goods received note"
    Then the fiscal review queue is empty
    And the budget by line shows HW-01 with spent 0.00, pending 0.00 and available 50,000.00

  Scenario: Over 25,000.00 an invoice waits for a second, different fiscal officer
    Given a baselined project
    And pm has submitted invoice INV-301 from "Accenture" for 40,000.00 on LB-01
    When fiscal approves invoice INV-301
    Then the fiscal review queue still holds invoice INV-301 with 1 approval so far
    And the budget by line shows LB-01 with spent 0.00, pending 40,000.00 and available 200,000.00
    When fiscal approves invoice INV-301
    Then it is refused as segregation-of-duties: "Fay Fiscal already approved this; the next approval must come from a different person"
    And the fiscal review queue still holds invoice INV-301 with 1 approval so far
    When fiscal2 approves invoice INV-301
    Then the fiscal review queue is empty
    And the budget by line shows LB-01 with spent 40,000.00, pending 0.00 and available 160,000.00

  Scenario: Budget by line: original, transfers, change requests, current, committed, spent, pending, available
    Given a baselined project
    And fiscal has approved a transfer of 5,000.00 from HW-01 to LB-01
    And an approved purchase order PO-7 to "Accenture" for 30,000.00 on LB-01
    And invoice INV-201 from "Dell Technologies" for 8,000.00 on HW-01 has been approved
    And pm has submitted invoice INV-202 from "Dell Technologies" for 2,500.00 on HW-01
    And the baseline is locked
    And the sponsor has approved a change request adding 20,000.00 to LB-01 and -3,000.00 to HW-01
    When fiscal reviews the budget by line
    Then the budget by line is:
      | line  | original   | transfers | CR adjustments | current    | committed | spent    | pending  | available  |
      | HW-01 | 50,000.00  | -5,000.00 | -3,000.00      | 42,000.00  | 0.00      | 8,000.00 | 2,500.00 | 34,000.00  |
      | LB-01 | 200,000.00 | 5,000.00  | 20,000.00      | 225,000.00 | 30,000.00 | 0.00     | 0.00     | 195,000.00 |
    And the project's totals are budget 267,000.00, committed 30,000.00, spent 8,000.00, pending 2,500.00 and available 229,000.00
