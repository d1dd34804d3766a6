"""Who sees reports and exports. Pure predicates; an export someone may not see answers 404."""

from __future__ import annotations

from program.accounts.models import Role, User
from program.reports.models import ExportJob


def can_view_reports(user: User) -> bool:
    """HR and admins run the participation report and its exports, and read the export audit."""
    return bool(user and user.is_authenticated and user.role in (Role.HR.value, Role.ADMIN.value))


def can_see_export(user: User, job: ExportJob) -> bool:
    """An export is for the person who asked for it, and for HR and admins."""
    return bool(user and user.is_authenticated and (job.created_by_id == user.id or can_view_reports(user)))
