Feature: Budget lines and transfers
  The project manager lays out the budget in lines (labour, hardware, software, vendor
  services, training, contingency) and edits them freely until G1 (planning) passes.
  Money moves between lines by a transfer a fiscal officer approves -- two different ones
  over 25,000.00, and then the sponsor over 100,000.00, as for expenditures: never more
  than the source line has available, and the project's total never changes.

  Scenario: Before G1 the project manager adds and revises budget lines freely
    Given a chartered project
    When pm adds budget line SW-01 "Licences" for software of 30,000.00
    And pm changes the budget of SW-01 to 35,000.00 because "vendor quote received"
    Then line SW-01 has a budget of 35,000.00
    And the project's total budget is 35,000.00

  Scenario: A fiscal officer approves a transfer; the total stays the same
    Given a baselined project
    When pm requests a transfer of 5,000.00 from HW-01 to LB-01 because "fewer servers than planned"
    And fiscal approves the transfer
    Then line HW-01 has a budget of 45,000.00
    And line LB-01 has a budget of 205,000.00
    And the project's total budget is 250,000.00
    And the latest event is signed by fiscal

  Scenario: A transfer over 25,000.00 moves the money only on a second fiscal officer's approval
    Given a baselined project
    And pm has requested a transfer of 30,000.00 from LB-01 to HW-01
    When fiscal approves the transfer
    Then the transfer is pending
    And line HW-01 has a budget of 50,000.00
    When fiscal2 approves the transfer
    Then the transfer is approved
    And line HW-01 has a budget of 80,000.00
    And the project's total budget is 250,000.00

  Scenario: A fiscal officer rejects a transfer with a reason
    Given a baselined project
    And pm has requested a transfer of 5,000.00 from HW-01 to LB-01
    When fiscal rejects the transfer because "hardware prices are rising; keep the reserve"
    Then the transfer is rejected
    And line HW-01 has a budget of 50,000.00

  Scenario: A transfer larger than the source line's available balance is refused
    Given a baselined project
    When pm requests a transfer of 60,000.00 from HW-01 to LB-01 because "reprioritised"
    Then it is refused as would-overdraw: "this transfer would overdraw line HW-01 by 10,000.00; available 50,000.00"
    And the log length is unchanged

  Scenario: A transfer is refused at approval when the money was spent meanwhile
    Given a baselined project
    And pm has requested a transfer of 40,000.00 from HW-01 to LB-01
    And an approved expenditure of 20,000.00 on HW-01
    When fiscal approves the transfer
    Then it is refused as would-overdraw: "this transfer would overdraw line HW-01 by 10,000.00; available 30,000.00"
    And the log length is unchanged

  Scenario: Nobody approves a transfer they requested themselves
    Given a baselined project
    And fiscal2 also holds the pm role on the project
    And fiscal2 has requested a transfer of 1,000.00 from HW-01 to LB-01
    When fiscal2 approves the transfer
    Then it is refused as segregation-of-duties saying "they submitted it themselves"
    And the log length is unchanged

  Scenario: A project manager cannot approve a transfer
    Given a baselined project
    And pm has requested a transfer of 1,000.00 from HW-01 to LB-01
    When pm2 approves the transfer
    Then it is refused as not-authorised: "Priya Manager may not approve budget transfers on IT-2026-014: it needs the fiscal or sponsor role, which they do not hold now"
    And the log length is unchanged

  Scenario: A budget line needs a known category
    Given a chartered project
    When pm adds budget line XX-01 "Snacks" for catering of 500.00
    Then it is refused as validation: "category must be one of: labour, hardware, software, vendor services, training, contingency (got 'catering')"
    And the log length is unchanged

  Scenario: After G1 a budget line cannot be changed without a change request
    Given a baselined project
    And the baseline is locked
    When pm changes the budget of HW-01 to 60,000.00 because "more servers"
    Then it is refused as baseline-locked: "the baseline of IT-2026-014 is locked since G1 (planning) passed; submit a change request instead"
    And the log length is unchanged

  Scenario: After G1 no budget line is added without a change request
    Given a baselined project
    And the baseline is locked
    When pm adds budget line TR-01 "Training" for training of 5,000.00
    Then it is refused as baseline-locked saying "submit a change request instead"
    And the log length is unchanged

  Scenario: A fiscal officer whose role was revoked cannot approve a transfer
    Given a baselined project
    And pm has requested a transfer of 1,000.00 from HW-01 to LB-01
    And the administrator has revoked fiscal's fiscal role
    When fiscal approves the transfer
    Then it is refused as not-authorised saying "it needs the fiscal or sponsor role, which they do not hold now"
    And the log length is unchanged

  Scenario: A closed project takes no transfer
    Given a baselined project
    And the project is closed
    When pm requests a transfer of 1,000.00 from HW-01 to LB-01 because "tidy up"
    Then it is refused as project-closed saying "accepts nothing but fiscal reversals"
    And the log length is unchanged
