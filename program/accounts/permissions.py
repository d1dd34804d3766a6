"""Who may manage people. Pure predicates, used by routes and templates alike."""

from __future__ import annotations

from program.accounts.models import Role, User


def can_manage_people(user: User) -> bool:
    """Admins manage people, departments and teams, and run the people import."""
    return bool(user and user.is_authenticated and user.role == Role.ADMIN.value)


def can_view_people(user: User) -> bool:
    """Admins and HR may browse the people directory."""
    return bool(user and user.is_authenticated and user.role in (Role.ADMIN.value, Role.HR.value))


def can_read_outbox(user: User) -> bool:
    """Admins may read the development outbox (mail that was logged rather than sent)."""
    return can_manage_people(user)
