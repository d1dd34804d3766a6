"""Who sees and sets goals. Pure predicates, used by routes, templates and queries alike."""

from __future__ import annotations

from program.accounts.models import Role, User


def can_manage_goals(user: User) -> bool:
    """HR and admins set goals and record leave."""
    return bool(user and user.is_authenticated and user.role in (Role.HR.value, Role.ADMIN.value))


def can_view_org_progress(user: User) -> bool:
    """HR and admins see every department's progress, the monthly trend and the coverage heatmap."""
    return can_manage_goals(user)
