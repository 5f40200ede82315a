"""The command handlers, one module per area; `domain.services.PMOApplication` composes them.

- base.py      Actor, Done (a command's value and receipts), UnitOfWork, the handler machinery
- baseline.py  charter, baseline (deliverables, budget lines, milestones), change requests
- money.py     budget transfers, commitments (purchase orders), expenditures
- gates.py     gate reviews, sign-offs and conditions, progress and milestone acceptance
- records.py   risks, issues, status reports
- people.py    people, roles and keys, the approval policy, passwords and API tokens

Each command is load -> one aggregate method -> save, checked against the command table
(domain/commands.py) and returning `Done(value, receipts)`.
"""
