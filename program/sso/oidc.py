"""The OpenID Connect client (Authlib's Flask integration): the authorization code flow with PKCE (S256), state and
nonce, the ID token verified against the provider's keys (signature, issuer, audience, expiry on Tandem's clock),
the provider's end-session URL for RP-initiated logout, and the discovery document on demand.

Every request to the provider has a short timeout (OIDC_TIMEOUT_SECONDS): the token exchange happens while the
person waits on the callback. Whatever goes wrong comes out as an ``SSOError`` with a message a person can read.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from authlib.oidc.core import CodeIDToken
from flask import Flask, current_app, session
from joserfc.errors import ExpiredTokenError, JoseError

from program.errors import DomainError
from program.sso.settings import SSOSettings, read_settings
from program.timeutil import utcnow
from program.web import absolute_url

log = logging.getLogger(__name__)

CLIENT_NAME = "oidc"
EXTENSION = "tandem.sso"
METADATA_MAX_AGE = 3600  # seconds before the discovery document (and with it the keys) is read again


class SSOError(DomainError):
    """Single sign-on did not work; the message says why, for the person signing in. ``purpose`` is the flow's
    ("sign_in" or "test") once its state is known."""

    purpose: str | None = None


class ProviderUnavailable(SSOError):
    pass


class InvalidResponse(SSOError):
    pass


class InvalidState(SSOError):
    pass


class IDTokenExpired(SSOError):
    pass


class TandemIDToken(CodeIDToken):
    """Authlib's ID token rules, checked against Tandem's clock (``utcnow()``: tests pin or move it) rather
    than ``time.time()``. Authlib's default leeway is 120 s; ours is OIDC_CLOCK_SKEW_SECONDS (0–60)."""

    def validate(self, now: int | None = None, leeway: int = 0) -> None:
        super().validate(now=int(utcnow().timestamp()) if now is None else now, leeway=leeway)


@dataclass(frozen=True)
class FlowResult:
    """What the provider said at the end of one sign-in flow."""

    claims: dict[str, Any]  # the verified ID token's claims, completed from the userinfo endpoint
    id_token: str
    issuer: str
    purpose: str  # "sign_in" | "test"
    next: str | None


def current_settings() -> SSOSettings:
    return read_settings(current_app.config)


def _client(settings: SSOSettings):
    """The Authlib client for these settings (one per app and settings; the discovery document it holds is
    read again after METADATA_MAX_AGE)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    cached = app.extensions.get(EXTENSION)
    if cached is None or cached[0] != settings.cache_key:
        oauth = OAuth()
        oauth.app = app  # not init_app: that would claim app.extensions for a registry we keep here
        client = oauth.register(
            CLIENT_NAME,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            server_metadata_url=settings.discovery_url,
            client_kwargs={
                "scope": settings.scopes,
                "code_challenge_method": "S256",
                "default_timeout": settings.timeout,
            },
        )
        cached = (settings.cache_key, client)
        app.extensions[EXTENSION] = cached
    client = cached[1]
    if time.time() - client.server_metadata.get("_loaded_at", time.time()) > METADATA_MAX_AGE:
        client.server_metadata = {}
    return client


def _provider_error(settings: SSOSettings, exc: Exception) -> SSOError:
    name = settings.provider_name
    if isinstance(exc, requests.RequestException):
        log.warning("single sign-on: %s could not be reached: %s", settings.discovery_url, exc)
        return ProviderUnavailable(f"{name} could not be reached. Try again in a moment.")
    if isinstance(exc, ExpiredTokenError):
        log.warning("single sign-on: expired ID token: %s", exc)
        return IDTokenExpired(f"The sign-in from {name} had expired when it reached Tandem. Please sign in again.")
    if isinstance(exc, JoseError):
        log.warning("single sign-on: ID token refused: %r", exc)
        return InvalidResponse(f"The sign-in from {name} could not be verified, so it was refused.")
    if isinstance(exc, AuthlibBaseError):
        log.warning("single sign-on: %s refused: %s %s", name, exc.error, exc.description)
        return InvalidResponse(f"{name} refused the sign-in ({exc.description or exc.error}). Please try again.")
    log.warning("single sign-on: unexpected answer from %s: %r", name, exc)
    return InvalidResponse(f"{name} gave an answer Tandem could not use, so the sign-in was refused.")


# Everything the provider's answers may raise on their way through Authlib, requests and joserfc.
PROVIDER_ERRORS = (
    requests.RequestException,
    JoseError,
    AuthlibBaseError,
    ValueError,
    KeyError,
    TypeError,
    RuntimeError,
)


def begin(purpose: str, next_url: str | None = None) -> str:
    """Start a flow: the URL of the provider's authorization endpoint to send the browser to. The state, nonce
    and PKCE verifier stay in this browser's session (Authlib keeps them under the state)."""
    settings = current_settings()
    client = _client(settings)
    redirect_uri = absolute_url("sso.callback")
    try:
        rv = client.create_authorization_url(redirect_uri)
    except PROVIDER_ERRORS as exc:
        raise _provider_error(settings, exc) from None
    url = rv.pop("url")
    client.save_authorize_data(redirect_uri=redirect_uri, purpose=purpose, next=next_url, **rv)
    return url


def _take_state(client, state: str | None) -> dict[str, Any] | None:
    """The flow this state belongs to, used once: removed from the session whatever happens next."""
    if not state:
        return None
    stored = session.get(f"_state_{CLIENT_NAME}_{state}")
    data = client.framework.get_state_data(session, state)
    client.framework.clear_state_data(session, state)
    if not data or not isinstance(stored, dict) or float(stored.get("exp") or 0) < time.time():
        return None
    return data


def finish(args: dict[str, str]) -> FlowResult:
    """Complete a flow at the callback: check the state, exchange the code (with the PKCE verifier), verify the
    ID token (signature from the provider's keys, issuer, audience, expiry, nonce) and complete its claims from
    the userinfo endpoint. Raises SSOError."""
    settings = current_settings()
    client = _client(settings)
    data = _take_state(client, args.get("state"))
    if data is None:
        log.warning("single sign-on: callback with an unknown, used or expired state")
        raise InvalidState(
            "This sign-in could not be matched to one started in this browser (it may have been used already, "
            "expired or been tampered with). Please start again."
        )
    try:
        return _complete(client, settings, data, args)
    except SSOError as exc:
        exc.purpose = data.get("purpose")
        raise


def _complete(client, settings: SSOSettings, data: dict[str, Any], args: dict[str, str]) -> FlowResult:
    name = settings.provider_name
    if args.get("error"):
        description = args.get("error_description") or args["error"]
        raise InvalidResponse(f"{name} did not sign you in: {description}")
    if not data.get("nonce") or not data.get("code_verifier") or not args.get("code"):
        raise InvalidState("This sign-in is incomplete. Please start again.")
    try:
        metadata = client.load_server_metadata()
        issuer = metadata["issuer"]
        if args.get("iss") and args["iss"] != issuer:  # RFC 9207: the answer comes from the provider we asked
            raise InvalidResponse(f"The answer did not come from {name}, so the sign-in was refused.")
        token = client.fetch_access_token(
            redirect_uri=data["redirect_uri"], code=args["code"], code_verifier=data["code_verifier"]
        )
        if not token.get("id_token"):
            raise InvalidResponse(f"{name} sent no ID token, so the sign-in was refused.")
        claims = dict(
            client.parse_id_token(
                token,
                nonce=data["nonce"],
                claims_options={
                    "iss": {"essential": True, "value": issuer},
                    "aud": {"essential": True, "value": settings.client_id},
                    "sub": {"essential": True},
                },
                claims_cls=TandemIDToken,
                leeway=settings.leeway,
            )
        )
        if metadata.get("userinfo_endpoint"):
            # Providers may keep the profile claims (email, groups…) out of the ID token; the userinfo endpoint,
            # asked with this flow's access token, has them — for the same subject only.
            info = dict(client.userinfo(token=token))
            if info.get("sub") != claims["sub"]:
                raise InvalidResponse(f"{name} described a different person, so the sign-in was refused.")
            claims = {**info, **claims}
    except SSOError:
        raise
    except PROVIDER_ERRORS as exc:
        raise _provider_error(settings, exc) from None
    return FlowResult(
        claims=claims,
        id_token=token["id_token"],
        issuer=issuer,
        purpose=data.get("purpose") or "",
        next=data.get("next"),
    )


def logout_url(id_token: str) -> str | None:
    """The provider's end-session URL (RP-initiated logout) for a sign-in with this ID token, coming back to
    Tandem's sign-in page; None when OIDC_LOGOUT is off or the provider offers no end_session_endpoint."""
    settings = current_settings()
    if not settings.enabled or not settings.logout:
        return None
    client = _client(settings)
    try:
        if not client.load_server_metadata().get("end_session_endpoint"):
            return None
        return client.create_logout_url(
            post_logout_redirect_uri=absolute_url("accounts.login"),
            id_token_hint=id_token,
            client_id=settings.client_id,
        )["url"]
    except PROVIDER_ERRORS as exc:
        log.warning("single sign-on: no end-session URL: %r", exc)
        return None


def fetch_discovery(settings: SSOSettings) -> dict[str, Any]:
    """The provider's discovery document, read now (for the admin page). Raises SSOError."""
    try:
        response = requests.get(settings.discovery_url, timeout=settings.timeout)
        response.raise_for_status()
        document = response.json()
    except PROVIDER_ERRORS as exc:
        raise _provider_error(settings, exc) from None
    if not isinstance(document, dict):
        raise InvalidResponse("The discovery document is not a JSON object.")
    return document
