"""The SCIM 2.0 API at /scim/v2 (RFC 7644): bearer-token JSON, exempt from CSRF (no cookies are read).

Each view authenticates the client (before_request), parses with scim2-models, calls one service of
``people``/``teams``, commits once and answers ``application/scim+json``; every refusal is a SCIM Error
document (401 with WWW-Authenticate, 400 with its scimType, 404, 405, 409, 412, 501).
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import Blueprint, current_app, g, request
from pydantic import ValidationError
from scim2_models import (
    Context,
    ListResponse,
    PatchOp,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
    SearchRequest,
)
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from program.extensions import db
from program.scim import people, teams, tokens
from program.scim.audit import client_actor
from program.scim.filters import group_condition, user_condition
from program.scim.protocol import ScimError, error_response, etag_matches, not_found, scim_response
from program.scim.representation import dump, group_model, user_model, versioned
from program.scim.resources import (
    DEFAULT_COUNT,
    MAX_RESULTS,
    POLICY,
    SCHEMAS,
    SCHEMAS_BY_ID,
    ScimGroup,
    UserModel,
    resource_types,
    service_provider_config,
)
from program.timeutil import utcnow

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")

# The generic messages, parametrised once: pydantic caches a parametrised class only while something holds it,
# and building one again for every request costs more than the request.
AnyResource = UserModel | ScimGroup
SEARCH = {
    UserModel: SearchRequest[UserModel],
    ScimGroup: SearchRequest[ScimGroup],
    AnyResource: SearchRequest[AnyResource],
}
LIST = {UserModel: ListResponse[UserModel], ScimGroup: ListResponse[ScimGroup], AnyResource: ListResponse[AnyResource]}
PARAMETERS = {UserModel: ResponseParameters[UserModel], ScimGroup: ResponseParameters[ScimGroup]}
PATCH = {UserModel: PatchOp[UserModel], ScimGroup: PatchOp[ScimGroup]}

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def base_url() -> str:
    """Absolute URLs are built on BASE_URL, never on the Host header a client controls."""
    return current_app.config["BASE_URL"].rstrip("/") + bp.url_prefix


# --- authentication and errors -----------------------------------------------------------------------


@bp.before_request
def authenticate():
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    token = tokens.authenticate(raw.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        db.session.rollback()
        response = error_response(401, "A valid bearer token is required")
        if header:
            response.headers["WWW-Authenticate"] = 'Bearer realm="Tandem SCIM", error="invalid_token"'
        return response
    if tokens.mark_used(token, utcnow()):
        db.session.commit()
    g.scim_actor = client_actor(token.name)
    return None


@bp.errorhandler(ScimError)
def scim_error(exc: ScimError):
    db.session.rollback()
    return error_response(exc.status, exc.detail, exc.scim_type)


@bp.errorhandler(SCIMException)
def scim_exception(exc: SCIMException):
    return scim_error(ScimError.from_exception(exc))


@bp.errorhandler(ValidationError)
def validation_error(exc: ValidationError):
    return scim_error(ScimError.from_validation(exc))


@bp.errorhandler(IntegrityError)
def integrity_error(exc: IntegrityError):
    # Two requests raced for one address (the unique index caught the second).
    return scim_error(ScimError(409, "That userName or name is already taken", "uniqueness"))


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    response = scim_error(ScimError(exc.code or 500, exc.description or exc.name))
    if exc.code == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


# The app's own pages for these codes are HTML; a blueprint's handler for the code comes before them.
for _code in (400, 403, 404, 405, 413, 500):
    bp.register_error_handler(_code, http_error)


def _method_not_allowed(*allowed: str) -> NoReturn:
    raise MethodNotAllowed(valid_methods=list(allowed))


# --- request parsing ---------------------------------------------------------------------------------


def _method() -> str:
    """The request's method, HEAD read as GET (Flask answers it without the body)."""
    return "GET" if request.method == "HEAD" else request.method


def _body() -> Any:
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise ScimError(400, "The body must be JSON", "invalidSyntax")
    return body


def _validate(model: Any, payload: Any, context: Context) -> Any:
    return model.model_validate(payload, scim_ctx=context, scim_policy=POLICY)


def _response_parameters(model: Any) -> ResponseParameters:
    raw = {key: request.args[key] for key in ("attributes", "excludedAttributes") if request.args.get(key)}
    return PARAMETERS[model].model_validate(raw)


def _search(model: Any, source: dict[str, Any]) -> tuple[SearchRequest, int, int]:
    keys = ("filter", "startIndex", "count", "attributes", "excludedAttributes", "sortBy", "sortOrder")
    wanted = {key: source[key] for key in keys if source.get(key) not in (None, "")}
    search = SEARCH[model].model_validate(wanted, scim_ctx=Context.SEARCH_REQUEST, scim_policy=POLICY)
    start = search.start_index or 1
    count = DEFAULT_COUNT if search.count is None else min(search.count, MAX_RESULTS)
    return search, start, count


def _list_response(model: Any, total: int, start: int, resources: list[Any], params: Any) -> dict[str, Any]:
    listing = LIST[model](total_results=total, start_index=start, items_per_page=len(resources), resources=resources)
    return listing.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=params)


def _check_if_match(current_tag: str) -> None:
    header = request.headers.get("If-Match")
    if header and not etag_matches(header, current_tag):
        raise ScimError(412, "The resource changed since you read it (If-Match does not match its ETag)")


def _resource_response(resource: Any, context: Context, status: int = 200, params: Any = None):
    tag = versioned(resource)
    headers = {"ETag": tag, "Location": resource.meta.location} if status == 201 else {"ETag": tag}
    return scim_response(dump(resource, context, params), status, headers)


def _one(resource: Any, params: Any):
    """GET of one resource, with If-None-Match answered by 304."""
    tag = versioned(resource)
    header = request.headers.get("If-None-Match")
    if header and etag_matches(header, tag):
        return scim_response(None, 304, {"ETag": tag})
    return scim_response(dump(resource, Context.RESOURCE_QUERY_RESPONSE, params), 200, {"ETag": tag})


# --- discovery ---------------------------------------------------------------------------------------


def _listing(items: list[Any]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": len(items),
        "startIndex": 1,
        "itemsPerPage": len(items),
        "Resources": items,
    }


def _with_meta(document: dict[str, Any], resource_type: str, location: str) -> dict[str, Any]:
    document["meta"] = {"resourceType": resource_type, "location": location}
    return document


def _schema_document(schema: Schema) -> dict[str, Any]:
    return _with_meta(
        schema.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE), "Schema", f"{base_url()}/Schemas/{schema.id}"
    )


def _resource_type_document(resource_type: ResourceType) -> dict[str, Any]:
    return _with_meta(
        resource_type.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE),
        "ResourceType",
        f"{base_url()}/ResourceTypes/{resource_type.id}",
    )


@bp.route("/ServiceProviderConfig", methods=METHODS)
def service_provider_config_view():
    if _method() != "GET":
        _method_not_allowed("GET")
    document = service_provider_config().model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return scim_response(_with_meta(document, "ServiceProviderConfig", f"{base_url()}/ServiceProviderConfig"))


@bp.route("/ResourceTypes", methods=METHODS)
def resource_types_view():
    if _method() != "GET":
        _method_not_allowed("GET")
    return scim_response(_listing([_resource_type_document(rt) for rt in resource_types()]))


@bp.route("/ResourceTypes/<name>", methods=METHODS)
def resource_type_view(name: str):
    if _method() != "GET":
        _method_not_allowed("GET")
    for resource_type in resource_types():
        if (resource_type.id or "").lower() == name.lower():
            return scim_response(_resource_type_document(resource_type))
    raise not_found(f"Resource type {name}")


@bp.route("/Schemas", methods=METHODS)
def schemas_view():
    if _method() != "GET":
        _method_not_allowed("GET")
    return scim_response(_listing([_schema_document(schema) for schema in SCHEMAS]))


@bp.route("/Schemas/<path:schema_id>", methods=METHODS)
def schema_view(schema_id: str):
    if _method() != "GET":
        _method_not_allowed("GET")
    schema = SCHEMAS_BY_ID.get(schema_id.lower())
    if schema is None:
        raise not_found(f"Schema {schema_id}")
    return scim_response(_schema_document(schema))


# --- Users -------------------------------------------------------------------------------------------


def _list_users(source: dict[str, Any]):
    search, start, count = _search(UserModel, source)
    condition = user_condition(search.filter.ast) if search.filter else None
    total, found = people.people_page(condition, start, count)
    resources = [user_model(person, base_url()) for person in found]
    for resource in resources:
        versioned(resource)
    return scim_response(_list_response(UserModel, total, start, resources, search))


@bp.route("/Users", methods=METHODS)
def users():
    if _method() == "GET":
        return _list_users(request.args.to_dict())
    if _method() != "POST":
        _method_not_allowed("GET", "POST")
    params = _response_parameters(UserModel)
    payload = people.prepare_payload(_body(), None)
    resource = _validate(UserModel, payload, Context.RESOURCE_CREATION_REQUEST)
    person = people.save_person(g.scim_actor, None, people.wanted_from(resource), utcnow())
    db.session.commit()
    return _resource_response(user_model(person, base_url()), Context.RESOURCE_CREATION_RESPONSE, 201, params)


@bp.route("/Users/.search", methods=METHODS)
def users_search():
    if _method() != "POST":
        _method_not_allowed("POST")
    body = _body()
    if not isinstance(body, dict):
        raise ScimError(400, "The body must be a SearchRequest", "invalidSyntax")
    return _list_users(body)


def _person_or_404(user_id: str):
    person = people.find_person(user_id, for_update=_method() != "GET")
    if person is None:
        raise not_found(f"User {user_id}")
    return person


@bp.route("/Users/<user_id>", methods=METHODS)
def user(user_id: str):
    person = _person_or_404(user_id)
    params = _response_parameters(UserModel)
    if _method() == "GET":
        return _one(user_model(person, base_url()), params)
    _check_if_match(versioned(user_model(person, base_url())))
    actor, now = g.scim_actor, utcnow()
    if _method() == "DELETE":
        people.delete_person(actor, person, now)
        db.session.commit()
        return scim_response(None, 204)
    if _method() == "PUT":
        payload = people.prepare_payload(_body(), person)
        resource = _validate(UserModel, payload, Context.RESOURCE_REPLACEMENT_REQUEST)
        people.save_person(actor, person, people.wanted_from(resource, put=True, person=person), now)
        db.session.commit()
        return _resource_response(user_model(person, base_url()), Context.RESOURCE_REPLACEMENT_RESPONSE, 200, params)
    if _method() != "PATCH":
        _method_not_allowed("GET", "PUT", "PATCH", "DELETE")
    # PATCH: apply the operations to the person as the client sees them, then save the result as a PUT would.
    operations = people.drop_address_repeats(_body(), person)
    if operations is not None:
        patch = _validate(PATCH[UserModel], operations, Context.RESOURCE_PATCH_REQUEST)
        resource = user_model(person, base_url())
        patch.patch(resource, scim_policy=POLICY)
        people.save_person(actor, person, people.wanted_from(resource, person=person), now)
        db.session.commit()
    return _resource_response(user_model(person, base_url()), Context.RESOURCE_PATCH_RESPONSE, 200, params)


# --- Groups ------------------------------------------------------------------------------------------


def _group(team, members: list[int] | None = None) -> ScimGroup:
    if members is None:
        members = teams.member_ids([team.id])[team.id]
    return group_model(team, members, base_url())


def _list_groups(source: dict[str, Any]):
    search, start, count = _search(ScimGroup, source)
    condition = group_condition(search.filter.ast, people.visible) if search.filter else None
    total, found = teams.teams_page(condition, start, count)
    members = teams.member_ids([team.id for team in found])
    resources = [_group(team, members[team.id]) for team in found]
    for resource in resources:
        versioned(resource)
    return scim_response(_list_response(ScimGroup, total, start, resources, search))


@bp.route("/Groups", methods=METHODS)
def groups():
    if _method() == "GET":
        return _list_groups(request.args.to_dict())
    if _method() != "POST":
        _method_not_allowed("GET", "POST")
    params = _response_parameters(ScimGroup)
    resource = _validate(ScimGroup, _body(), Context.RESOURCE_CREATION_REQUEST)
    team = teams.create_team(g.scim_actor, teams.wanted_team_from(resource), utcnow())
    db.session.commit()
    return _resource_response(_group(team), Context.RESOURCE_CREATION_RESPONSE, 201, params)


@bp.route("/Groups/.search", methods=METHODS)
def groups_search():
    if _method() != "POST":
        _method_not_allowed("POST")
    body = _body()
    if not isinstance(body, dict):
        raise ScimError(400, "The body must be a SearchRequest", "invalidSyntax")
    return _list_groups(body)


@bp.route("/Groups/<group_id>", methods=METHODS)
def group(group_id: str):
    team = teams.find_team(group_id, for_update=_method() != "GET")
    if team is None:
        raise not_found(f"Group {group_id}")
    params = _response_parameters(ScimGroup)
    if _method() == "GET":
        return _one(_group(team), params)
    _check_if_match(versioned(_group(team)))
    actor, now = g.scim_actor, utcnow()
    if _method() == "DELETE":
        teams.delete_team(actor, team, now)
        db.session.commit()
        return scim_response(None, 204)
    if _method() == "PUT":
        resource = _validate(ScimGroup, _body(), Context.RESOURCE_REPLACEMENT_REQUEST)
        teams.update_team(actor, team, teams.wanted_team_from(resource, put=True), now)
        db.session.commit()
        return _resource_response(_group(team), Context.RESOURCE_REPLACEMENT_RESPONSE, 200, params)
    if _method() != "PATCH":
        _method_not_allowed("GET", "PUT", "PATCH", "DELETE")
    patch = _validate(PATCH[ScimGroup], _body(), Context.RESOURCE_PATCH_REQUEST)
    resource = _group(team)
    patch.patch(resource, scim_policy=POLICY)
    teams.update_team(actor, team, teams.wanted_team_from(resource), now)
    db.session.commit()
    return _resource_response(_group(team), Context.RESOURCE_PATCH_RESPONSE, 200, params)


# --- the rest ----------------------------------------------------------------------------------------


@bp.route("/.search", methods=METHODS)
def root_search():
    """Users and Groups at once (RFC 7644 §3.4.3): the people matching the filter, then the teams, paginated
    as one list. An attribute only one of the two has is false for the other."""
    if _method() != "POST":
        _method_not_allowed("POST")
    body = _body()
    if not isinstance(body, dict):
        raise ScimError(400, "The body must be a SearchRequest", "invalidSyntax")
    model = AnyResource
    search, start, count = _search(model, body)
    ast = search.filter.ast if search.filter else None
    user_where = user_condition(ast, lenient=True) if ast is not None else None
    group_where = group_condition(ast, people.visible, lenient=True) if ast is not None else None
    user_total, found_people = people.people_page(user_where, start, count)
    group_start = max(1, start - user_total)
    group_count = count - len(found_people)
    group_total, found_teams = teams.teams_page(group_where, group_start, group_count)
    members = teams.member_ids([team.id for team in found_teams])
    resources = [user_model(person, base_url()) for person in found_people]
    resources += [_group(team, members[team.id]) for team in found_teams]
    for resource in resources:
        versioned(resource)
    return scim_response(_list_response(model, user_total + group_total, start, resources, search))


@bp.route("/", methods=METHODS)
@bp.route("/<path:rest>", methods=METHODS)
def unknown(rest: str = ""):
    raise not_found(f"/{rest}")
