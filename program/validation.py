"""What input may reach the database: one set of checks that every Tandem form runs, and text lengths read
from the models' own columns.

PostgreSQL refuses a NUL byte in any text, text longer than its ``String(n)`` column and integers outside
the 32-bit ``INTEGER`` range; SQLite stores all three without a word. So a rule written only in a service or
a template leaks a 500 the first time a browser, a script or a pasted spreadsheet cell sends such a value.
Here the rules live once:

- ``TandemForm`` is the base of every form. After the form's own validators it looks at every field it
  received (subforms and field lists included) and refuses, beside the field: control characters (C0 and
  DEL; TAB, CR and LF are fine), text longer than the field's ``Length`` or ``MAX_TEXT_CHARS``, integers
  outside the 32-bit signed range, and infinite or NaN numbers. A form that holds such a value says so
  (``form.unstorable``): routes that run a service on an invalid form, to show its messages as well, call
  ``refuse_unstorable(form)`` first, so the value never reaches the database.
- ``from_column(Model.attr)`` gives a field the ``Length`` of the column it fills, so a column's length is
  written once. A form lists the models it fills in ``saves_to``; ``tests/test_input_validation.py`` checks
  that every text field named like one of their columns fits it.
- CSV importers use ``control_character_line`` and ``column_length`` for the same rules, line by line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar

from flask_wtf import FlaskForm
from wtforms import Field, FieldList, FormField
from wtforms.fields import HiddenField, SelectFieldBase
from wtforms.validators import Length

from program.errors import ValidationFailed

MAX_TEXT_CHARS = 20_000  # any text field without a smaller Length; the debriefs' answers have their own cap
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1  # SQL INTEGER, the type of every id and count column

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # C0 and DEL, except TAB, LF and CR
CONTROL_MESSAGE = "Remove the control character (such as a NUL byte) from this field; it can't be saved."
CHOICE_MESSAGE = "Choose from the list."
INT_MESSAGE = f"Give a number from {INT32_MIN:,} to {INT32_MAX:,}."
FINITE_MESSAGE = "Give a finite number."


def has_control_characters(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


def control_character_line(text: str) -> int | None:
    """The 1-based line of the first control character in ``text`` (a whole uploaded file), or None."""
    found = CONTROL_CHARACTERS.search(text)
    return None if found is None else text.count("\n", 0, found.start()) + 1


def column_length(attr: Any) -> int:
    """The length of a ``String(n)`` column, from the mapped attribute: ``column_length(User.name)`` → 120."""
    length = getattr(attr.property.columns[0].type, "length", None)
    if not length:
        raise TypeError(f"{attr} is not a String(n) column")
    return int(length)


class ColumnLength(Length):
    """A ``Length(max=n)`` whose n is the shortest of the columns the field fills; it remembers them."""

    def __init__(self, *attrs: Any, message: str | None = None) -> None:
        self.columns = attrs
        limit = min(column_length(attr) for attr in attrs)
        super().__init__(max=limit, message=message or f"Keep it to {limit:,} characters.")


def from_column(*attrs: Any, message: str | None = None) -> list[Length]:
    """Validators for a text field that fills these columns:
    ``validators=[DataRequired(), *from_column(Team.name)]``."""
    return [ColumnLength(*attrs, message=message)]


def text_limit(field: Field) -> int:
    """The most characters a field accepts: its smallest ``Length(max=…)``, and never more than MAX_TEXT_CHARS."""
    limits = [v.max for v in field.validators if isinstance(v, Length) and v.max is not None and v.max >= 0]
    return min([*limits, MAX_TEXT_CHARS])


def leaf_fields(form) -> Iterator[Field]:
    """Every field that holds a value, through subforms (FormField) and repeated rows (FieldList)."""
    for field in form:
        if isinstance(field, FormField):
            yield from leaf_fields(field.form)
        elif isinstance(field, FieldList):
            for entry in field.entries:
                if isinstance(entry, FormField):
                    yield from leaf_fields(entry.form)
                else:
                    yield entry
        else:
            yield field


def input_problem(field: Field) -> str | None:
    """Why the database can't take this field's value, or None."""
    raw = [value for value in (field.raw_data or ()) if isinstance(value, str)]
    if any(has_control_characters(value) for value in raw):
        return CONTROL_MESSAGE
    limit = text_limit(field)
    data = field.data
    if any(len(value) > MAX_TEXT_CHARS for value in raw) or (isinstance(data, str) and len(data) > limit):
        return f"Keep it to {limit:,} characters."
    chooses = isinstance(field, (SelectFieldBase, HiddenField))  # an id picked from a list
    for value in data if isinstance(data, (list, tuple)) else (data,):
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and not INT32_MIN <= value <= INT32_MAX:
            return CHOICE_MESSAGE if chooses else INT_MESSAGE
        if isinstance(value, float) and not math.isfinite(value):
            return FINITE_MESSAGE
        if isinstance(value, Decimal) and not value.is_finite():
            return FINITE_MESSAGE
    return None


def check_input(form) -> list[Field]:
    """Put a message beside every field whose value the database can't take (unless the field already says
    what is wrong); return those fields."""
    refused = []
    for field in leaf_fields(form):
        problem = input_problem(field)
        if problem is None:
            continue
        refused.append(field)
        if not field.errors:
            field.errors = [problem]
    if refused:
        _refresh_list_errors(form)
    return refused


def _refresh_list_errors(form) -> None:
    """A FieldList keeps the errors it collected while validating; let it see the ones added since."""
    for field in form:
        if isinstance(field, FormField):
            _refresh_list_errors(field.form)
        elif isinstance(field, FieldList):
            for entry in field.entries:
                if isinstance(entry, FormField):
                    _refresh_list_errors(entry.form)
            errors = [entry.errors for entry in field.entries]
            field.errors = errors if any(errors) else []


class TandemForm(FlaskForm):
    """The base of every Tandem form: its own validators, then the input checks above."""

    saves_to: ClassVar[tuple[type, ...]] = ()  # the models whose columns its text fields fill

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        self.unstorable_fields = check_input(self)
        return valid and not self.unstorable_fields

    @property
    def unstorable(self) -> bool:
        """True when a field holds a value the database can't take (found by the last ``validate``)."""
        return bool(getattr(self, "unstorable_fields", None))


def refuse_unstorable(form) -> None:
    """Stop before a service sees input the database can't take; the messages are already beside the fields."""
    if getattr(form, "unstorable", False):
        raise ValidationFailed("Please correct the marked fields.")


def init_app(app) -> None:
    """Refuse a query string with a control character (a NUL byte in a list's search box or filter would
    otherwise reach the database as part of a query): 400, before any view runs."""
    from flask import abort, request

    @app.before_request
    def _refuse_control_characters_in_the_address() -> None:
        if any(
            has_control_characters(key) or has_control_characters(value)
            for key, value in request.args.items(multi=True)
        ):
            abort(400)
