"""Projects and the directory as the pages and API reads show them, from the application's
one aggregate cache (domain/cache.py): each server thread keeps the aggregates it last
used and brings them forward by the events recorded since, so a page does not replay a
whole project on every request, and a user sees their own write (and another process's)
at once.

What `project(code)` and `directory()` return is for reading only: it is the thread's
cached copy. The cache holds no per-user data (only aggregates, which every reader is
then checked against as before).
"""

from __future__ import annotations

from domain.directory import DIRECTORY_ID, Directory
from domain.project import Project, project_id
from domain.services import PMOApplication


class AggregateCache:
    """The pages' view of one PMOApplication's aggregate cache."""

    def __init__(self, pmo: PMOApplication) -> None:
        self.pmo = pmo

    def project(self, code: str) -> Project:
        """The project as it stands now (NotFoundError when there is none)."""
        return self.pmo.cache.read(project_id(code), lambda: self.pmo.project(code))  # type: ignore[return-value]

    def directory(self) -> Directory:
        """The directory as it stands now."""
        return self.pmo.cache.read(DIRECTORY_ID, self.pmo.directory)  # type: ignore[return-value]
