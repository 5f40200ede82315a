Feature: Compliance review
  Polly Lead and Otto Auditor review the compliance findings of the whole history: each
  names the rule it breaks, the project, and the log positions of the events that are its
  evidence. The services refuse what breaks the rules, so a finding means something was
  written behind their back -- or the rules are about what people did within them, such as
  splitting one purchase into invoices each small enough for a single approver. The
  ledger's own verification faults (a byte changed in the database) are findings too.

  Background:
    Given it is 2026-03-02 09:00 UTC
    And a project chartered to run from 2026-03-01 to 2026-12-31
    And pm has laid out the budget lines:
      | line  | name       | category | amount     |
      | HW-01 | Servers    | hardware | 50,000.00  |
      | LB-01 | Developers | labour   | 200,000.00 |
    And pm has planned milestone M-01 "Design" from 2026-03-01 to 2026-04-30 worth 100,000.00

  Scenario: A clean history shows no findings
    Given it is 2026-03-09 10:00 UTC
    And invoice INV-601 from "Northwind Traders" for 9,000.00 on HW-01 dated 2026-03-06 has been approved
    And invoice INV-602 from "Northwind Traders" for 9,000.00 on HW-01 dated 2026-03-09 has been approved
    And pm has reported M-01 at 20% complete as of 2026-03-09
    When the auditor reviews the compliance findings
    Then there are no findings

  Scenario: A self-approval written behind the services' back, and a split purchase
    Given fiscal2 also holds the pm role on the project
    And it is 2026-03-09 10:00 UTC
    And fiscal2 has submitted invoice INV-701 from "Contoso" for 4,000.00 on HW-01 dated 2026-03-09
    And invoice INV-702 from "Northwind Traders" for 12,000.00 on HW-01 dated 2026-03-03 has been approved
    And invoice INV-703 from "Northwind Traders" for 9,000.00 on HW-01 dated 2026-03-06 has been approved
    And invoice INV-704 from "Northwind Traders" for 8,000.00 on HW-01 dated 2026-03-09 has been approved
    And pm has reported M-01 at 35% complete as of 2026-03-09
    When fiscal2 approves invoice INV-701
    Then it is refused as segregation-of-duties saying "they submitted it themselves"
    When fiscal2 approves invoice INV-701 by writing the approval straight into the project
    Then invoice INV-701 is approved
    When the auditor reviews the compliance findings
    Then the findings are:
      | rule    | severity | project     | evidence                                          |
      | SOD-001 | high     | IT-2026-014 | INV-701 submitted, INV-701 approved               |
      | PUR-001 | medium   | IT-2026-014 | INV-702 submitted, INV-703 submitted, INV-704 submitted |
    And the SOD-001 finding says "Finn Fiscal (fiscal2)" and "which they submitted themselves"
    And the PUR-001 finding says "Northwind Traders" and "together 29,000.00"

  Scenario: Two invoices from one vendor under the threshold together are no split purchase
    Given it is 2026-03-09 10:00 UTC
    And invoice INV-801 from "Northwind Traders" for 12,000.00 on HW-01 dated 2026-03-03 has been approved
    And invoice INV-802 from "Northwind Traders" for 13,000.00 on HW-01 dated 2026-03-09 has been approved
    And pm has reported M-01 at 30% complete as of 2026-03-09
    When the auditor reviews the compliance findings
    Then there are no findings

  Scenario: A byte changed in the database shows as a bad signature
    Given it is 2026-03-09 10:00 UTC
    And invoice INV-901 from "Dell Technologies" for 12,000.00 on HW-01 dated 2026-03-06 has been approved
    And the ledger verifies with no findings
    When someone with access to the database changes the amount of INV-901's submission from 12000.00 to 92000.00
    And the auditor verifies the ledger
    Then the findings are:
      | rule                 | severity | project | evidence          |
      | LEDGER-bad-signature | high     |         | INV-901 submitted |
      | LEDGER-chain-break   | high     |         | INV-901 submitted |
