"""Read models: projections of the log into tables, and the questions they answer.

`ReadModels(app)` keeps them up to date with a tracking row per projection, written with its rows (they
resume where they stopped, never count an event twice, and can be dropped and rebuilt)
and answers: portfolio and project summaries, budget by line, earned value as of any date
and as an S-curve, review queues per role, the approvals register, the audit trail per
project and field, compliance findings, and any project "as of" a position or an instant.
"""

# The rows these questions answer with are in domain.readmodels.views.
from domain.readmodels.asof import Replay
from domain.readmodels.service import ReadModels, month_ends

__all__ = ["ReadModels", "Replay", "month_ends"]
