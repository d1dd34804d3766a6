"""Stage counts, amounts, lifts and deals as people type or upload them (pure): checked as a whole.

Funnel input (form or CSV) is saved all-or-nothing: every stage named, every count a whole number ≥ 0, no
count larger than the stage before, at least two stages, the first entered by someone. Problems name their
row or CSV line, so a form and an upload get the same rules and the same words.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from program.errors import ValidationFailed
from program.reviews.funnel.models import FunnelStage, PlaybackDeal
from program.validation import CONTROL_CHARACTERS, column_length

MAX_STAGES = 12
MAX_COUNT = 10**9
MAX_AVG_VALUE_CENTS = 10**13  # 100 billion
STAGE_NAME_MAX = column_length(FunnelStage.name)
MAX_DEAL_ROWS = 500


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input. ``row`` indexes the rows given (None: the input as a whole);
    ``where`` names it for people ("Line 4", "Row 2")."""

    row: int | None
    field: str | None
    message: str
    where: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.sentence

    @property
    def sentence(self) -> str:
        """The message on its own (beside a form field), starting with a capital."""
        return self.message[:1].upper() + self.message[1:]


class InputProblems(ValidationFailed):
    """The input was refused as a whole; ``problems`` says every reason, in order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        if len(problems) == 1:
            summary = str(problems[0])
        else:
            summary = f"Nothing was saved: {len(problems)} problems. " + " ".join(str(p) for p in problems[:3])
        super().__init__(summary)


@dataclass(frozen=True)
class RawStage:
    name: str
    entering: str
    where: str = ""


@dataclass(frozen=True)
class StageInput:
    name: str
    entering: int


_COUNT = re.compile(r"-?(\d{1,3}(,\d{3})+|\d+)")


def _parse_count(raw: str) -> int | None:
    text = raw.strip().replace(" ", "")
    if not _COUNT.fullmatch(text):
        return None
    return int(text.replace(",", ""))


def check_stages(rows: Sequence[RawStage]) -> list[StageInput]:
    """The stages in order, or ``InputProblems`` naming every bad row. Rows with neither a name nor
    a count are ignored (the blank rows of a form). Each count is compared with the row above it."""
    problems: list[Problem] = []
    stages: list[StageInput] = []
    seen: dict[str, str] = {}
    previous: StageInput | None = None  # the nearest row above with a usable count
    given = 0
    for index, row in enumerate(rows):
        name, raw = row.name.strip(), row.entering.strip()
        if not name and not raw:
            continue
        given += 1
        ok = True
        label = f"“{name}”" if name else "this stage"

        def problem(field_name: str, message: str, index: int = index, where: str = row.where) -> None:
            problems.append(Problem(index, field_name, message, where))

        if not name:
            problem("name", f"the stage name is missing (its count is {raw}).")
            ok = False
        elif len(name) > STAGE_NAME_MAX:
            problem("name", f"the stage name is longer than {STAGE_NAME_MAX} characters.")
            ok = False
        elif name.casefold() in seen:
            also = f" (also {seen[name.casefold()]})" if seen[name.casefold()] else ""
            problem("name", f"the stage “{name}” appears twice{also}.")
            ok = False
        else:
            seen[name.casefold()] = row.where
        count = _parse_count(raw) if raw else None
        wrong = ""
        if not raw:
            wrong = f"the number entering {label} is missing."
        elif count is None:
            wrong = f"“{raw}” is not a whole number of prospects."
        elif count < 0:
            wrong = f"the number entering {label} can't be negative ({count})."
        elif count > MAX_COUNT:
            wrong = f"{count:,} is more than Tandem accepts ({MAX_COUNT:,})."
        elif given == 1 and count == 0:
            wrong = "the first stage needs at least one prospect."
        elif previous is not None and count > previous.entering:
            wrong = f"{label} has {count:,}, more than the {previous.entering:,} entering “{previous.name}” before it."
        if wrong:
            problem("entering", wrong)
        if count is not None and 0 <= count <= MAX_COUNT:
            previous = StageInput(name or "the stage above", count)
        if ok and not wrong:
            stages.append(StageInput(name, count))
    if given < 2:
        problems.append(
            Problem(
                None,
                None,
                "Give at least two stages (for example Lead and Won): a conversion needs a stage and the one after it.",
            )
        )
    elif given > MAX_STAGES:
        problems.append(Problem(None, None, f"A funnel has at most {MAX_STAGES} stages."))
    if problems:
        raise InputProblems(problems)
    return stages


def parse_money(raw: str, field_name: str = "avg_deal_value") -> int:
    """'24,000.50' → 2400050 cents. Refuses negatives, more than two decimals and absurd sizes."""
    text = (raw or "").strip().replace(",", "").replace(" ", "")
    if not text:
        raise ValidationFailed("Give the average deal value.", field=field_name)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValidationFailed(
            f"“{raw.strip()}” is not an amount (write it like 24000 or 24,000.50).", field=field_name
        ) from None
    if not value.is_finite():
        raise ValidationFailed(f"“{raw.strip()}” is not an amount.", field=field_name)
    if value < 0:
        raise ValidationFailed("The average deal value can't be negative.", field=field_name)
    if value * 100 > MAX_AVG_VALUE_CENTS:  # before quantize, which can't give two decimals of a 30-digit number
        raise ValidationFailed("That amount is larger than Tandem accepts.", field=field_name)
    if value != value.quantize(Decimal("0.01")):
        raise ValidationFailed("Give the amount to at most two decimals.", field=field_name)
    return int(value * 100)


def _header_key(name: str) -> str:
    return (name or "").strip().lower().replace(" ", "_").replace("-", "_")


def _csv_records(
    content: str, columns: Sequence[str], required: Sequence[str]
) -> tuple[list[tuple[int, dict[str, str]]], list[Problem]]:
    """Rows of a CSV with a header, as (line number, {column: value}), and the problems of its shape."""
    reader = csv.reader(io.StringIO(content), strict=True)  # strict: stray quotes are errors, not guesses
    problems: list[Problem] = []
    last_line = 0  # where the last good row ended; a broken row starts on the next line
    records: list[tuple[int, dict[str, str]]] = []
    expected = ", ".join(columns)
    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(reader, None)
        if header is None:
            return [], [Problem(None, None, f"The file is empty. Its first line should be the header: {expected}.")]
        keys = [_header_key(h) for h in header]
        while keys and not keys[-1]:
            keys.pop()
        header_line = reader.line_num
        missing = [c for c in required if c not in keys]
        unknown = [k for k in keys if k not in columns]
        if missing or unknown or len(set(keys)) != len(keys):
            detail = f"it lacks {', '.join(missing)}" if missing else "it has unknown or repeated columns"
            return [], [
                Problem(None, None, f"the header must name the columns {expected} ({detail}).", f"Line {header_line}")
            ]
        last_line = reader.line_num
        for values in reader:
            line = last_line + 1
            last_line = reader.line_num
            while values and not values[-1].strip() and len(values) > len(keys):
                values = values[:-1]
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(keys):
                problems.append(
                    Problem(
                        len(records),
                        None,
                        f"expected {len(keys)} values ({', '.join(keys)}), found {len(values)}.",
                        f"Line {line}",
                    )
                )
                records.append((line, {}))
                continue
            if any(CONTROL_CHARACTERS.search(v) for v in values):  # a NUL byte can't be stored in any text
                problems.append(
                    Problem(
                        len(records),
                        None,
                        "a value contains a control character (such as a NUL byte); remove it.",
                        f"Line {line}",
                    )
                )
                records.append((line, {}))
                continue
            records.append((line, {k: v.strip() for k, v in zip(keys, values, strict=True)}))
    except csv.Error as exc:
        problems.append(
            Problem(
                None,
                None,
                f"not valid CSV ({exc}); check its quotes. Nothing after it was read.",
                f"Line {last_line + 1}",
            )
        )
    return records, problems


def parse_funnel_csv(content: str) -> list[StageInput]:
    """A funnel CSV (header ``stage,entering``, one line per stage in funnel order) → stages, or
    ``InputProblems`` naming every bad line."""
    records, problems = _csv_records(content, ("stage", "entering"), ("stage", "entering"))
    if problems and not records:
        raise InputProblems(problems)
    rows = [RawStage(r.get("stage", ""), r.get("entering", ""), f"Line {line}") for line, r in records if r]
    if not records and not problems:
        raise InputProblems([Problem(None, None, "The file has a header but no stages.")])
    broken = any(p.row is None for p in problems)  # unreadable CSV: the whole-file checks would only add noise
    try:
        stages = check_stages(rows) if rows else []
    except InputProblems as exc:
        problems.extend(p for p in exc.problems if not (broken and p.row is None))
    if problems:
        problems.sort(key=lambda p: int(p.where.split()[-1]) if p.where.startswith("Line ") else 10**9)
        raise InputProblems(problems)
    return stages


def normalise_outcome(raw: str) -> str | None:
    key = _header_key(raw).replace("__", "_")
    aliases = {
        "won": "won",
        "win": "won",
        "lost": "lost",
        "loss": "lost",
        "no_decision": "no_decision",
        "nodecision": "no_decision",
        "no_decision_made": "no_decision",
        "stalled": "no_decision",
    }
    return aliases.get(key)


@dataclass(frozen=True)
class DealInput:
    name: str
    segment: str
    outcome: str
    lead_source: str


def check_deal(
    name: str, segment: str, outcome: str, lead_source: str
) -> tuple[DealInput | None, list[tuple[str, str]]]:
    """A deal's fields, or the (field, message) problems with them."""
    problems: list[tuple[str, str]] = []
    name, segment, lead_source = name.strip(), segment.strip(), lead_source.strip()
    if not name:
        problems.append(("name", "the deal name is missing."))
    elif len(name) > column_length(PlaybackDeal.name):
        problems.append(("name", f"the deal name is longer than {column_length(PlaybackDeal.name)} characters."))
    if len(segment) > column_length(PlaybackDeal.segment):
        problems.append(("segment", f"the segment is longer than {column_length(PlaybackDeal.segment)} characters."))
    if len(lead_source) > column_length(PlaybackDeal.lead_source):
        problems.append(
            ("lead_source", f"the lead source is longer than {column_length(PlaybackDeal.lead_source)} characters.")
        )
    normal = normalise_outcome(outcome) if outcome.strip() else None
    if not outcome.strip():
        problems.append(("outcome", "the outcome is missing (won, lost or no decision)."))
    elif normal is None:
        problems.append(("outcome", f"the outcome “{outcome.strip()}” is not won, lost or no decision."))
    if problems:
        return None, problems
    return DealInput(name, segment, normal or "", lead_source), []


def parse_deals_csv(content: str, existing_names: Iterable[str] = ()) -> list[DealInput]:
    """A deals CSV (header ``deal,segment,outcome,lead_source``) → deals, or ``InputProblems`` naming
    every bad line. A deal already in the list, or twice in the file, is a problem too."""
    columns = ("deal", "segment", "outcome", "lead_source")
    records, problems = _csv_records(content, columns, ("deal", "outcome"))
    if problems and not records:
        raise InputProblems(problems)
    if not records and not problems:
        raise InputProblems([Problem(None, None, "The file has a header but no deals.")])
    if len(records) > MAX_DEAL_ROWS:
        raise InputProblems([Problem(None, None, f"The file has more than {MAX_DEAL_ROWS} deals; split it.")])
    existing = {n.casefold() for n in existing_names}
    seen: dict[str, int] = {}
    deals: list[DealInput] = []
    for index, (line, record) in enumerate(records):
        if not record:
            continue  # its shape was already reported
        deal, row_problems = check_deal(
            record.get("deal", ""), record.get("segment", ""), record.get("outcome", ""), record.get("lead_source", "")
        )
        for field_name, message in row_problems:
            problems.append(Problem(index, field_name, message, f"Line {line}"))
        if deal is None:
            continue
        key = deal.name.casefold()
        if key in seen:
            problems.append(
                Problem(index, "name", f"the deal “{deal.name}” appears twice (also line {seen[key]}).", f"Line {line}")
            )
        elif key in existing:
            problems.append(Problem(index, "name", f"the deal “{deal.name}” is already in the list.", f"Line {line}"))
        else:
            seen[key] = line
            deals.append(deal)
    if problems:
        problems.sort(key=lambda p: int(p.where.split()[-1]) if p.where.startswith("Line ") else 0)
        raise InputProblems(problems)
    return deals


def parse_lift(value: Decimal | str | None) -> int:
    """Percentage points (up to two decimals, more than 0, at most 100) → hundredths of a point."""
    try:
        lift = Decimal(str(value).strip()) if value is not None and str(value).strip() else None
    except InvalidOperation:
        lift = None
    if lift is None or not lift.is_finite():
        raise ValidationFailed("Give the expected lift in percentage points, for example 2.5.", field="lift")
    if lift <= 0:
        raise ValidationFailed("The lift must be more than 0 percentage points.", field="lift")
    if lift > 100:
        raise ValidationFailed("A conversion can't rise by more than 100 percentage points.", field="lift")
    if lift != lift.quantize(Decimal("0.01")):
        raise ValidationFailed("Give the lift to at most two decimals.", field="lift")
    return int(lift * 100)
