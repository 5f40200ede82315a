Feature: The auditor's replay
  Otto Auditor asks how a project stood at a point of the log, or at an instant (UTC), and
  gets the project as it was then -- not as it is now. Two clocks are kept apart: when an
  act was recorded, and the business date it is effective (an invoice's date). "What was
  spent by 31 March, as we know it today" and "what did we know on 31 March" are different
  questions, and both have answers. Every approval and review is listed with the signer's
  printed name, the UTC time and the meaning of the signature; every change of a field
  with its old value, new value, who and why.

  The project's baseline: HW-01 "Servers" 50,000.00 and LB-01 "Developers" 200,000.00.

  Background:
    Given it is 2026-03-02 09:00 UTC
    And a baselined project

  Scenario: A line's budget as of an instant, before and after a transfer was approved
    Given pm has requested a transfer of 5,000.00 from HW-01 to LB-01
    And it is 2026-03-10 14:30 UTC
    And fiscal has approved the transfer
    When the auditor replays the project as of 2026-03-10 14:29 UTC
    Then the replay was recorded at 2026-03-02 09:00 UTC
    And line HW-01 then had a budget of 50,000.00 with 50,000.00 available
    And line LB-01 then had a budget of 200,000.00 with 200,000.00 available
    And the transfer was then pending
    When the auditor replays the project as of 2026-03-10 14:30 UTC
    Then the replay was recorded at 2026-03-10 14:30 UTC
    And line HW-01 then had a budget of 45,000.00 with 45,000.00 available
    And line LB-01 then had a budget of 205,000.00 with 205,000.00 available
    And the transfer was then approved

  Scenario: A project as of a log position
    Given pm has requested a transfer of 5,000.00 from HW-01 to LB-01
    And the auditor notes the log position as "before the approval"
    And fiscal has approved the transfer
    And invoice INV-401 from "Dell Technologies" for 12,000.00 on HW-01 dated 2026-03-02 has been approved
    When the auditor replays the project as of the position noted "before the approval"
    Then the replay stands at the position noted "before the approval"
    And line HW-01 then had a budget of 50,000.00 with 50,000.00 available
    And the project then had spent 0.00
    And the transfer was then pending
    And today line HW-01 has a budget of 45,000.00 with 33,000.00 available

  Scenario: What was spent by a date as we know it today, and what we knew on that date
    Given it is 2026-03-05 10:00 UTC
    And invoice INV-401 from "Dell Technologies" for 12,000.00 on HW-01 dated 2026-03-03 has been approved
    And it is 2026-04-08 11:00 UTC
    And invoice INV-402 from "Accenture" for 7,500.00 on LB-01 dated 2026-03-20 has been approved
    And invoice INV-403 from "Accenture" for 1,000.00 on LB-01 dated 2026-04-02 has been approved
    Then what was spent by 2026-03-31, as we know it today, is 19,500.00
    And what we knew on 2026-03-31 of the spending by 2026-03-31 is 12,000.00
    And what was spent by 2026-03-10, as we know it today, is 12,000.00
    And what was spent by 2026-04-30, as we know it today, is 20,500.00
    And as the project stood at the end of 2026-03-31 it had spent 12,000.00

  Scenario: The approvals register: who signed, when (UTC) and what the signature meant
    Given pm has submitted invoice INV-501 from "Accenture" for 30,000.00 on LB-01
    And pm has submitted invoice INV-502 from "Accenture" for 30,000.00 on LB-01
    And it is 2026-03-03 15:45 UTC
    And fiscal has approved invoice INV-501
    And it is 2026-03-04 08:10 UTC
    And fiscal2 has approved invoice INV-501
    And fiscal2 has rejected invoice INV-502 because "duplicate of INV-501"
    When the auditor opens the approvals register of the project
    Then the register lists:
      | recorded (UTC)      | signer      | role   | what            | decision | meaning  | reason               |
      | 2026-03-03 15:45:00 | Fay Fiscal  | fiscal | invoice INV-501 | approved | approval |                      |
      | 2026-03-04 08:10:00 | Finn Fiscal | fiscal | invoice INV-501 | approved | approval |                      |
      | 2026-03-04 08:10:00 | Finn Fiscal |        | invoice INV-502 | rejected | review   | duplicate of INV-501 |

  Scenario: The audit trail of one field: old value, new value, who and why
    Given it is 2026-03-03 11:20 UTC
    And pm has changed the budget of HW-01 to 55,000.00 because "vendor quote received"
    And pm has requested a transfer of 5,000.00 from HW-01 to LB-01
    And it is 2026-03-06 16:05 UTC
    And fiscal has approved the transfer because "servers consolidated"
    When the auditor opens the audit trail of the budget of line HW-01
    Then the trail shows:
      | recorded (UTC)      | old value | new value | who         | why                   |
      | 2026-03-02 09:00:00 |           | 50,000.00 | Pat Manager |                       |
      | 2026-03-03 11:20:00 | 50,000.00 | 55,000.00 | Pat Manager | vendor quote received |
      | 2026-03-06 16:05:00 | 55,000.00 | 50,000.00 | Fay Fiscal  | servers consolidated  |
