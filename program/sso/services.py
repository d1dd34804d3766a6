"""Who a single sign-on is: the rules that turn a provider's verified claims into a Tandem person.

- A person is found by the provider's subject (``sub``) stored at their first sign-in;
- else by email, only when the provider says the address is verified (``email_verified``) — then the sub is
  stored, so later sign-ins match by sub even after the address changes;
- else, with OIDC_JIT and the address in one of OIDC_ALLOWED_DOMAINS, a person is created (role and department
  from the configured claims) and the creation is written to the provisioning log;
- a deactivated person, an unverified address, or an address no rule accepts is refused.

``resolve_person`` decides without writing anything (the admin page's test sign-in shows its answer);
``sign_in_person`` applies the decision. Both take plain values; the caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from program.accounts.models import Department, Role, User
from program.accounts.provisioning import record
from program.accounts.services import check_email
from program.errors import DomainError, ValidationFailed
from program.extensions import db
from program.sso.settings import ROLE_RANK, SSOSettings


class SignInRefused(DomainError):
    """The provider vouched for someone Tandem will not let in; the message says why."""


@dataclass(frozen=True)
class NewPerson:
    email: str
    name: str
    role: str
    department: Department | None


@dataclass(frozen=True)
class Resolution:
    """Who signs in: an existing person (matched ``how``: "sub" or "email") or a person to create ("jit")."""

    how: str
    sub: str
    user: User | None = None
    new: NewPerson | None = None


def _claim_values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set):
        return [str(v) for v in value if v is not None and str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def email_is_verified(claims: Mapping[str, Any]) -> bool:
    """True only when the provider says so (the JSON boolean, or the string "true" some providers send)."""
    value = claims.get("email_verified")
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def mapped_role(claims: Mapping[str, Any], settings: SSOSettings) -> str:
    """The role for a person created at sign-in: every value of the role claim and the groups claim mapped by
    OIDC_ROLE_MAP, and a role claim value that is itself a role name; the highest wins; staff if none."""
    roles = []
    if settings.role_claim:
        for value in _claim_values(claims.get(settings.role_claim)):
            if value in settings.role_map:
                roles.append(settings.role_map[value])
            elif value.lower() in ROLE_RANK:
                roles.append(value.lower())
    if settings.groups_claim:
        roles += [
            settings.role_map[v] for v in _claim_values(claims.get(settings.groups_claim)) if v in settings.role_map
        ]
    return max(roles, key=ROLE_RANK.__getitem__, default=Role.STAFF.value)


def mapped_department(claims: Mapping[str, Any], settings: SSOSettings) -> Department | None:
    """The department named by the department claim, if Tandem has one of that name (any case)."""
    if not settings.department_claim:
        return None
    for value in _claim_values(claims.get(settings.department_claim)):
        department = db.session.scalar(select(Department).where(func.lower(Department.name) == value.lower()))
        if department is not None:
            return department
    return None


def _display_name(claims: Mapping[str, Any], email: str) -> str:
    name = str(claims.get("name") or "").strip()
    if not name:
        name = " ".join(str(claims.get(k) or "").strip() for k in ("given_name", "family_name")).strip()
    return (name or email.split("@", 1)[0])[:120]


def _refuse_inactive(user: User) -> None:
    if not user.active:
        raise SignInRefused("Your Tandem account is deactivated. Ask HR if you think this is wrong.")


def resolve_person(claims: Mapping[str, Any], settings: SSOSettings) -> Resolution:
    """Decide who these verified claims sign in as (see the module's rules), without changing anything.
    Raises SignInRefused."""
    sub = str(claims.get("sub") or "")
    if not sub or len(sub) > 255:
        raise SignInRefused(f"{settings.provider_name} sent no usable subject, so the sign-in was refused.")
    user = db.session.scalar(select(User).where(User.oidc_sub == sub))
    if user is not None:
        _refuse_inactive(user)
        return Resolution(how="sub", sub=sub, user=user)

    raw_email = str(claims.get("email") or "")
    if not raw_email:
        raise SignInRefused(f"{settings.provider_name} did not tell Tandem your email address, so you can't sign in.")
    if not email_is_verified(claims):
        raise SignInRefused(
            f"{settings.provider_name} has not verified your email address {raw_email}, so Tandem can't tell who "
            "you are. Verify it there, or ask HR."
        )
    try:
        email = check_email(raw_email)
    except ValidationFailed:
        raise SignInRefused(f"{raw_email!r} is not an email address Tandem can use.") from None

    user = db.session.scalar(select(User).where(User.email == email))
    if user is not None:
        if user.oidc_sub and user.oidc_sub != sub:
            raise SignInRefused(
                f"The Tandem account for {email} is linked to another {settings.provider_name} identity. "
                "Ask an administrator."
            )
        _refuse_inactive(user)
        return Resolution(how="email", sub=sub, user=user)

    domain = email.rpartition("@")[2]
    if not settings.jit:
        raise SignInRefused(f"There is no Tandem account for {email}. Ask HR to add you.")
    if domain not in settings.allowed_domains:
        raise SignInRefused(
            f"There is no Tandem account for {email}, and people from {domain} are not added automatically. "
            "Ask HR to add you."
        )
    new = NewPerson(
        email=email,
        name=_display_name(claims, email),
        role=mapped_role(claims, settings),
        department=mapped_department(claims, settings),
    )
    return Resolution(how="jit", sub=sub, new=new)


def _snapshot(user: User) -> dict[str, Any]:
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "department": user.department.name if user.department else None,
        "active": user.active,
        "oidc_sub": user.oidc_sub,
    }


def sign_in_person(claims: Mapping[str, Any], settings: SSOSettings, issuer: str, now: datetime) -> User:
    """The person these verified claims sign in as: found by sub, or by verified email (their sub is stored
    then), or created just in time (written to the provisioning log as actor ``sso:<issuer>``). Raises
    SignInRefused; the caller commits."""
    resolution = resolve_person(claims, settings)
    actor = f"sso:{issuer}"
    if resolution.how == "sub":
        assert resolution.user is not None
        return resolution.user
    if resolution.how == "email":
        user = resolution.user
        assert user is not None
        before = _snapshot(user)
        user.oidc_sub = resolution.sub
        db.session.flush()
        record(actor, "linked", "User", user.id, before, _snapshot(user), now)
        return user
    new = resolution.new
    assert new is not None
    user = User(
        email=new.email,
        name=new.name,
        role=new.role,
        department=new.department,
        timezone=current_app.config["DEFAULT_TIMEZONE"],
        active=True,
        password_hash=None,
        oidc_sub=resolution.sub,
        created_at=now,
    )
    db.session.add(user)
    db.session.flush()
    record(actor, "created", "User", user.id, None, _snapshot(user), now)
    return user
