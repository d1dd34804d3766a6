"""SCIM filters (RFC 7644 §3.4.2.2) turned into SQL: scim2-models parses and checks the filter against the
published schema; this module walks its syntax tree and maps each attribute Tandem stores to a column, so a
filter never loads more rows than it matches.

Supported: ``eq ne co sw ew gt ge lt le pr``, ``and``/``or``/``not``, and value paths such as
``emails[type eq "work" and value eq "x"]``. Strings compare case-insensitively unless the attribute is
case-exact (``externalId``, ids), as RFC 7643 §2.1 says. An attribute that is published but has no column to
compare (``meta.location``, ``$ref``) is refused with ``invalidFilter``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, select, true

from program.accounts.models import Department, Team, User
from program.scim.protocol import ScimError
from program.scim.resources import ENTERPRISE_SCHEMA

CORE_PREFIXES = ("urn:ietf:params:scim:schemas:core:2.0:user", "urn:ietf:params:scim:schemas:core:2.0:group")


def invalid_filter(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidFilter")


@dataclass(frozen=True)
class Column:
    """How to compare one attribute: the SQL expression, its kind, and whether strings are case-exact."""

    expr: Any
    kind: str = "text"  # text | int | bool | datetime
    case_exact: bool = False
    # Set when the attribute is reached through another table: the comparison goes inside it.
    wrap: Callable[[ColumnElement[bool]], ColumnElement[bool]] | None = None


@dataclass(frozen=True)
class Constant:
    """An attribute whose value is the same for every resource (``emails.type`` is always "work")."""

    value: Any


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 10:
        return int(value)
    return None


def _compare(column: Column, op: CompareOperator, value: Any) -> ColumnElement[bool]:
    expr = column.expr
    if column.kind == "text":
        if not isinstance(value, str):
            return false() if op != CompareOperator.ne else true()
        if not column.case_exact:
            expr, value = func.lower(expr), value.lower()
        if op == CompareOperator.eq:
            return expr == value
        if op == CompareOperator.ne:
            return or_(column.expr.is_(None), expr != value)
        if op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew):
            pattern = _like_escape(value)
            pattern = {"co": f"%{pattern}%", "sw": f"{pattern}%", "ew": f"%{pattern}"}[op.value]
            return expr.like(pattern, escape="\\")
        return {"gt": expr > value, "ge": expr >= value, "lt": expr < value, "le": expr <= value}[op.value]
    if column.kind == "int":
        number = _as_int(value)
        if op == CompareOperator.eq:
            return expr == number if number is not None else false()
        if op == CompareOperator.ne:
            return or_(expr.is_(None), expr != number) if number is not None else true()
        raise invalid_filter(f"Only eq and ne compare ids (got {op.value})")
    if column.kind == "bool":
        if not isinstance(value, bool):
            raise invalid_filter("Compare a boolean attribute with true or false")
        if op == CompareOperator.eq:
            return expr.is_(value)
        if op == CompareOperator.ne:
            return expr.is_not(value)
        raise invalid_filter(f"A boolean attribute can't be compared with {op.value}")
    # datetime
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise invalid_filter(f"{value!r} is not a dateTime") from None
    if not isinstance(value, datetime):
        raise invalid_filter("Compare a dateTime attribute with a dateTime")
    if op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew):
        raise invalid_filter(f"A dateTime attribute can't be compared with {op.value}")
    return {
        "eq": expr == value,
        "ne": expr != value,
        "gt": expr > value,
        "ge": expr >= value,
        "lt": expr < value,
        "le": expr <= value,
    }[op.value]


def _compare_constant(constant: Constant, op: CompareOperator, value: Any) -> ColumnElement[bool]:
    actual = constant.value
    if isinstance(actual, str) and isinstance(value, str):
        actual, value = actual.lower(), value.lower()
    if actual is None or value is None:
        result = (op == CompareOperator.eq and actual is value) or (op == CompareOperator.ne and actual is not value)
    elif op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew):
        result = isinstance(actual, str) and isinstance(value, str)
        if result:
            result = {"co": value in actual, "sw": actual.startswith(value), "ew": actual.endswith(value)}[op.value]
    elif op in (CompareOperator.eq, CompareOperator.ne):
        result = (actual == value) == (op == CompareOperator.eq)
    else:
        try:
            result = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}[op.value](
                actual, value
            )
        except TypeError:
            result = False
    return true() if result else false()


class SqlFilter(FilterVisitor[ColumnElement[bool]]):
    """A filter's syntax tree → a SQLAlchemy condition, through ``columns``: (attribute, sub-attribute) →
    Column or Constant. ``scope`` is the multi-valued attribute a value path is filtering inside."""

    def __init__(
        self, columns: dict[tuple[str, str | None], Column | Constant], scope: str | None = None, lenient: bool = False
    ):
        self.columns = columns
        self.scope = scope
        # Searching several resource types at once: an attribute this type lacks compares false (RFC 7644 §3.4.2.1).
        self.lenient = lenient

    def _key(self, path: AttrPath) -> tuple[str, str | None]:
        uri = (path.uri or "").casefold()
        attr, sub = path.attr.casefold(), (path.sub_attr.casefold() if path.sub_attr else None)
        if uri == ENTERPRISE_SCHEMA.casefold():
            attr = f"enterprise:{attr}"
        elif uri and uri not in CORE_PREFIXES:
            raise invalid_filter(f"Unknown schema in filter: {path.uri}")
        if self.scope is not None:
            return (self.scope, attr if sub is None else f"{attr}.{sub}")
        return (attr, sub)

    def _column(self, path: AttrPath) -> Column | Constant:
        key = self._key(path)
        found = self.columns.get(key)
        if found is None and key[1] is None:
            found = self.columns.get((key[0], "value"))  # "emails eq x" means "emails.value eq x"
        if found is None:
            if self.lenient:
                return Constant(None)
            raise invalid_filter(f"Tandem can't filter on {path}")
        return found

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        column = self._column(node.attr_path)
        if isinstance(column, Constant):
            return _compare_constant(column, node.op, node.value)
        condition = _compare(column, node.op, node.value)
        return column.wrap(condition) if column.wrap else condition

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        column = self._column(node.attr_path)
        if isinstance(column, Constant):
            return true() if column.value is not None else false()
        condition = column.expr.is_not(None)
        if column.kind == "text":
            condition = and_(condition, column.expr != "")
        return column.wrap(condition) if column.wrap else condition

    def visit_not(self, node: Not) -> ColumnElement[bool]:
        return not_(self.visit(node.expr))

    def visit_logical_expr(self, node: LogicalExpr) -> ColumnElement[bool]:
        terms = [self.visit(term) for term in node.terms]
        return and_(*terms) if node.op == LogicalOperator.and_ else or_(*terms)

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        if self.scope is not None:
            raise invalid_filter("A value path can't be nested in another")
        scope = self._key(node.attr_path)[0]
        return SqlFilter(self.columns, scope=scope, lenient=self.lenient).visit(node.val_filter)


# --- Users ------------------------------------------------------------------------------------------


def _in_department(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return User.department_id.in_(select(Department.id).where(condition))


def _in_team(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return User.team_id.in_(select(Team.id).where(condition))


_EMAIL = Column(User.email)
USER_COLUMNS: dict[tuple[str, str | None], Column | Constant] = {
    ("id", None): Column(User.id, "int"),
    ("externalid", None): Column(User.external_id, case_exact=True),
    ("username", None): _EMAIL,
    ("displayname", None): Column(User.name),
    ("active", None): Column(User.active, "bool"),
    ("emails", "value"): _EMAIL,
    ("emails", "type"): Constant("work"),
    ("emails", "primary"): Constant(True),
    ("roles", "value"): Column(User.role),
    ("groups", "value"): Column(User.team_id, "int"),
    ("groups", "display"): Column(Team.name, wrap=_in_team),
    ("enterprise:department", None): Column(Department.name, wrap=_in_department),
    ("enterprise:manager", "value"): Column(User.manager_id, "int"),
    ("meta", "created"): Column(User.created_at, "datetime"),
    ("meta", "lastmodified"): Column(func.coalesce(User.updated_at, User.created_at), "datetime"),
}


def user_condition(ast, lenient: bool = False) -> ColumnElement[bool]:
    """The SQL condition a parsed Users filter stands for."""
    return SqlFilter(USER_COLUMNS, lenient=lenient).visit(ast)


# --- Groups -----------------------------------------------------------------------------------------


def _has_member(visible: Callable[[], ColumnElement[bool]]) -> Callable[[ColumnElement[bool]], ColumnElement[bool]]:
    def wrap(condition: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists().where(User.team_id == Team.id, visible(), condition)

    return wrap


def group_columns(visible: Callable[[], ColumnElement[bool]]) -> dict[tuple[str, str | None], Column | Constant]:
    """``visible`` is the condition on User that hides the people a client deleted (they are no members)."""
    return {
        ("id", None): Column(Team.id, "int"),
        ("externalid", None): Column(Team.external_id, case_exact=True),
        ("displayname", None): Column(Team.name),
        ("members", "value"): Column(User.id, "int", wrap=_has_member(visible)),
        ("members", "type"): Constant("User"),
    }


def group_condition(ast, visible: Callable[[], ColumnElement[bool]], lenient: bool = False) -> ColumnElement[bool]:
    """The SQL condition a parsed Groups filter stands for."""
    return SqlFilter(group_columns(visible), lenient=lenient).visit(ast)
