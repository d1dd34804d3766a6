"""Single sign-on settings, read from the app's configuration (program/config.py: the OIDC_* variables)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from program.accounts.models import Role

# Higher wins when a person's claims map to several roles.
ROLE_RANK = {Role.STAFF.value: 0, Role.LEADER.value: 1, Role.HR.value: 2, Role.ADMIN.value: 3}


class SettingsError(RuntimeError):
    """A single sign-on setting that cannot work; the message names it."""


def _csv(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple | set | frozenset):
        items = value
    else:
        items = str(value or "").split(",")
    return tuple(item.strip() for item in items if item and item.strip())


def parse_role_map(value: Any) -> dict[str, str]:
    """``"tandem-admins=admin, tandem-hr=hr"`` → {"tandem-admins": "admin", "tandem-hr": "hr"}."""
    if isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        pairs = []
        for entry in _csv(value):
            claim_value, sep, role = entry.rpartition("=")
            if not sep or not claim_value.strip():
                raise SettingsError(f"OIDC_ROLE_MAP entry {entry!r} is not of the form value=role.")
            pairs.append((claim_value.strip(), role.strip()))
    mapping: dict[str, str] = {}
    for claim_value, role in pairs:
        role = str(role).strip().lower()
        if role not in ROLE_RANK:
            raise SettingsError(
                f"OIDC_ROLE_MAP maps {claim_value!r} to {role!r}, which is not a role ({', '.join(ROLE_RANK)})."
            )
        mapping[str(claim_value)] = role
    return mapping


@dataclass(frozen=True)
class SSOSettings:
    discovery_url: str
    client_id: str
    client_secret: str
    provider_name: str
    scopes: str
    jit: bool
    allowed_domains: tuple[str, ...]
    role_claim: str
    groups_claim: str
    role_map: dict[str, str] = field(hash=False)
    department_claim: str
    logout: bool
    timeout: float
    leeway: int
    password_login: bool
    break_glass_emails: tuple[str, ...]

    @property
    def enabled(self) -> bool:
        return bool(self.discovery_url)

    @property
    def cache_key(self) -> tuple[str, str, str, str, float]:
        """What the Authlib client is built from (a change builds a new one)."""
        return (self.discovery_url, self.client_id, self.client_secret, self.scopes, self.timeout)


def read_settings(config: Mapping[str, Any]) -> SSOSettings:
    """The settings from a Flask config; raises SettingsError for a combination that cannot work."""
    settings = SSOSettings(
        discovery_url=str(config.get("OIDC_DISCOVERY_URL") or "").strip(),
        client_id=str(config.get("OIDC_CLIENT_ID") or "").strip(),
        client_secret=str(config.get("OIDC_CLIENT_SECRET") or ""),
        provider_name=str(config.get("OIDC_PROVIDER_NAME") or "single sign-on"),
        scopes=str(config.get("OIDC_SCOPES") or "openid email profile"),
        jit=bool(config.get("OIDC_JIT")),
        allowed_domains=tuple(d.lower().lstrip("@") for d in _csv(config.get("OIDC_ALLOWED_DOMAINS"))),
        role_claim=str(config.get("OIDC_ROLE_CLAIM") or "").strip(),
        groups_claim=str(config.get("OIDC_GROUPS_CLAIM") or "").strip(),
        role_map=parse_role_map(config.get("OIDC_ROLE_MAP")),
        department_claim=str(config.get("OIDC_DEPARTMENT_CLAIM") or "").strip(),
        logout=bool(config.get("OIDC_LOGOUT", True)),
        timeout=float(config.get("OIDC_TIMEOUT_SECONDS") or 5),
        leeway=min(max(int(config.get("OIDC_CLOCK_SKEW_SECONDS") or 0), 0), 60),
        password_login=bool(config.get("PASSWORD_LOGIN", True)),
        break_glass_emails=tuple(e.lower() for e in _csv(config.get("BREAK_GLASS_EMAILS"))),
    )
    if settings.enabled:
        if not settings.client_id or not settings.client_secret:
            raise SettingsError("OIDC_DISCOVERY_URL is set: set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET too.")
        if "openid" not in settings.scopes.split():
            raise SettingsError(f"OIDC_SCOPES={settings.scopes!r} must include openid.")
    return settings
