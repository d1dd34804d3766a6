"""The SCIM wire: its media type, its error documents, entity tags, and the checks on what a client may write
(text the database can store)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Response
from pydantic import ValidationError
from scim2_models import Error, SCIMException

from program.validation import has_control_characters

MEDIA_TYPE = "application/scim+json"


class ScimError(Exception):
    """A request the server refuses, with the HTTP status and the RFC 7644 §3.12 ``scimType`` it answers."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    @classmethod
    def from_exception(cls, exc: SCIMException) -> ScimError:
        error = exc.to_error()
        return cls(int(error.status or 400), error.detail or str(exc), error.scim_type)

    @classmethod
    def from_validation(cls, exc: ValidationError) -> ScimError:
        errors = Error.from_validation_errors(exc)
        first = errors[0]
        detail = "; ".join(e.detail or "" for e in errors)
        return cls(int(first.status or 400), detail, first.scim_type or "invalidValue")


def not_found(what: str) -> ScimError:
    return ScimError(404, f"{what} not found")


def invalid_value(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidValue")


def uniqueness(detail: str) -> ScimError:
    return ScimError(409, detail, "uniqueness")


def scim_response(payload: dict[str, Any] | None, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = "" if payload is None else json.dumps(payload, ensure_ascii=False)
    response = Response(body, status=status, content_type=MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(status: int, detail: str, scim_type: str | None = None) -> Response:
    error = Error(status=status, scim_type=scim_type, detail=detail)
    response = scim_response(error.model_dump(scim_ctx=None, exclude_none=True, by_alias=True, mode="json"), status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="Tandem SCIM"'
    return response


# --- entity tags ---------------------------------------------------------------------------------


def etag_of(representation: dict[str, Any]) -> str:
    """A weak entity tag computed from a resource's full representation (without its own version): any change
    a client could see changes it, and nothing else does."""
    body = {key: value for key, value in representation.items() if key != "meta"}
    meta = {key: value for key, value in (representation.get("meta") or {}).items() if key != "version"}
    digest = hashlib.sha256(json.dumps([body, meta], sort_keys=True, default=str).encode()).hexdigest()
    return f'W/"{digest[:32]}"'


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def etag_matches(header: str, current: str) -> bool:
    """Whether an If-Match / If-None-Match header names the current version ("*" names any). Tags are compared
    by their opaque value: a SCIM client sends back the weak tag it was given (RFC 7644 §3.14)."""
    wanted = {_opaque(part) for part in header.split(",") if part.strip()}
    return "*" in wanted or _opaque(current) in wanted


# --- text the database can store -----------------------------------------------------------------


def check_text(label: str, value: str | None, limit: int) -> str | None:
    """The value, stripped, if the database can store it; else a 400 naming the attribute."""
    if value is None:
        return None
    if has_control_characters(value):
        raise invalid_value(f"{label} holds a control character")
    value = value.strip()
    if len(value) > limit:
        raise invalid_value(f"{label} is longer than {limit} characters")
    return value
