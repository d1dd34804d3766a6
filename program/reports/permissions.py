"""Who sees reports and exports. Pure predicates; an export someone may not see answers 404."""

from __future__ import annotations

from program.accounts.models import Role, User
from program.reports.models import ExportJob


def can_view_reports(user: User) -> bool:
    """HR and admins run the participation report and its exports, and read the export audit."""
    return bool(user and user.is_authenticated and user.role in (Role.HR.value, Role.ADMIN.value))


def can_see_export(user: User, job: ExportJob) -> bool:
    """Exports hold the whole organisation's data: only HR and admins see them (someone who has lost the
    role loses their earlier exports too)."""
    return can_view_reports(user)
