Feature: People and roles
  The administrator enrols people, grants and revokes their roles (for all projects or
  for one), re-issues signing keys and deactivates leavers. Every such act is itself a
  signed event, so the log alone says who was allowed to do what, and when. The
  administrator approves nothing. Granting the admin role re-issues the person's signing
  key with the authority to register keys; revoking it re-issues the key without.

  Scenario: A newly enrolled fiscal officer can approve invoices with their own key
    Given a baselined project
    And pm has submitted invoice INV-1 from "Dell Technologies" for 1,200.00 on HW-01
    When admin enrols "dana" as "Dana Diaz"
    And admin grants dana the fiscal role because "new hire in IT finance"
    And dana approves invoice INV-1
    Then invoice INV-1 is approved
    And the latest event is signed by dana

  Scenario: A role granted for one project only
    Given a chartered project
    And the project "IT-2026-015" has been chartered by pm2
    When admin enrols "quinn" as "Quinn Contractor"
    And admin grants quinn the pm role on IT-2026-014 because "contract project manager"
    And quinn raises the risk "Contractor availability" with probability 2 and impact 3
    Then quinn holds the pm role on IT-2026-014 only
    When quinn raises the risk "Contractor availability" on IT-2026-015
    Then it is refused as not-authorised: "Quinn Contractor may not manage risks on IT-2026-015: it needs the pm role, which they do not hold now"
    And the log length is unchanged

  Scenario: From the moment a role is revoked the person can no longer act in it
    Given a baselined project
    And pm has submitted invoice INV-2 from "Dell Technologies" for 1,200.00 on HW-01
    When admin revokes fiscal's fiscal role because "moved to the budget office"
    And fiscal approves invoice INV-2
    Then it is refused as not-authorised: "Fay Fiscal may not approve expenditures on IT-2026-014: it needs the fiscal or sponsor role, which they do not hold now"
    And the log length is unchanged
    And the log still shows fiscal held the fiscal role before the revocation

  Scenario: A deactivated person can no longer act
    Given a chartered project
    When admin deactivates pm2 because "left the city"
    And pm2 raises the risk "Handover gaps" with probability 3 and impact 3
    Then it is refused as not-authorised: "Priya Manager has been deactivated and cannot act"
    And the log length is unchanged

  Scenario: After a key is re-issued the old key cannot sign
    Given a baselined project
    And pm has submitted invoice INV-3 from "Dell Technologies" for 1,200.00 on HW-01
    And fiscal has signed in
    When admin re-issues fiscal's key because "laptop stolen"
    And fiscal approves invoice INV-3
    Then it is refused as not-authorised: "the signing key used is not Fay Fiscal's current key; it cannot act for them"
    And the log length is unchanged
    When fiscal signs in again
    And fiscal approves invoice INV-3
    Then invoice INV-3 is approved
    And the latest event is signed by fiscal

  Scenario: Passwords are not events
    When admin sets pm's password to "correct horse battery"
    Then pm can log in with "correct horse battery" but not with "demo"
    And the log length is unchanged

  Scenario: Only an administrator grants roles
    When pm grants pm2 the sponsor role because "I need a sponsor"
    Then it is refused as not-authorised: "Pat Manager may not administer people and roles: it needs the admin role, which they do not hold now"
    And the log length is unchanged

  Scenario: An administrator cannot revoke their own admin role
    When admin revokes admin's admin role because "stepping down"
    Then it is refused as segregation-of-duties: "an administrator cannot revoke their own admin role"
    And the log length is unchanged

  Scenario: A username is enrolled once
    When admin enrols "pm" as "Pat Again"
    Then it is refused as duplicate: "'pm' is already enrolled"
    And the log length is unchanged

  Scenario: Only the roles the ledger knows can be granted
    When admin grants pm2 the superuser role because "convenience"
    Then it is refused as validation: "unknown role 'superuser'; roles are pm, fiscal, sponsor, pmo, auditor, admin"
    And the log length is unchanged

  Scenario: A second administrator can register keys from the moment the role is granted
    Given pmo has signed in
    When admin grants pmo the admin role because "second administrator for leave cover"
    Then pmo's signing key may register keys
    And pmo's previous key is revoked
    When pmo signs in again
    And pmo enrols "zoe" as "Zoe Newhire"
    Then the latest event is signed by pmo

  Scenario: An administrator whose admin role was revoked can no longer enrol people
    Given admin has enrolled "ed" as "Ed Admin" with the admin role
    And ed has revoked admin's admin role
    Then admin's signing key may not register keys
    And admin's previous key is revoked
    When admin signs in again
    And admin enrols "zoe" as "Zoe Newhire"
    Then it is refused as not-authorised saying "it needs the admin role, which they do not hold now"
    And the log length is unchanged

  Scenario: After the admin role is granted the old key signs nothing
    Given pmo has signed in
    When admin grants pmo the admin role because "second administrator"
    And pmo enrols "zoe" as "Zoe Newhire"
    Then it is refused as not-authorised: "the signing key used is not Polly Lead's current key; it cannot act for them"
    And the log length is unchanged
