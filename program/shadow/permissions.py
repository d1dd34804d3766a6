"""Who sees a shadow pairing: the two leaders, their managers, HR and admin. Others get 404."""

from __future__ import annotations

from program.accounts.models import Role, User
from program.shadow.models import ShadowPairing


def can_view_pairing(user: User, pairing: ShadowPairing) -> bool:
    if user.role in (Role.HR.value, Role.ADMIN.value):
        return True
    leaders = (pairing.sales_leader, pairing.marketing_leader)
    return any(user.id == leader.id or leader.manager_id == user.id for leader in leaders)


def can_propose(user: User) -> bool:
    """Leaders of sales or marketing propose for themselves; HR and admins for anyone."""
    return user.role in (Role.HR.value, Role.ADMIN.value) or (
        user.role == Role.LEADER.value and user.function in ("sales", "marketing")
    )
