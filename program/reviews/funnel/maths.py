"""The funnel's maths and its numbers for people (pure functions).

Exactly (``fractions.Fraction`` inside, money rounded to whole cents only for display):

- a stage's conversion is the share of the prospects entering it that enter the next stage,
  ``entering(i+1) / entering(i)``; the last stage (Won) has no conversion. A stage nobody entered
  converts 0 (0 of 0 moved on) — shown as unknown, counted as 0;
- ``revenue = prospects entering the first stage × Π conversions × average deal value``
  (which equals the prospects entering the last stage × the average deal value);
- a stage's sensitivity is the revenue added by raising its conversion by 1 percentage point
  (to at most 100 %) with every other conversion fixed;
- an idea adds the revenue of its own lift on its stage (same rule, same cap); its ranking score is
  ``revenue × confidence ÷ effort weight`` with S = 1, M = 2, L = 3.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from program.reviews.funnel.models import EFFORT_WEIGHTS, Effort

ONE_PP = Fraction(1, 100)


def conversions(entering: Sequence[int]) -> list[Fraction]:
    """One conversion per stage transition (one fewer than stages): ``entering(i+1) / entering(i)``.
    A stage nobody entered converts 0, so a zero never divides."""
    return [
        Fraction(after, before) if before > 0 else Fraction(0)
        for before, after in zip(entering[:-1], entering[1:], strict=True)
    ]


def funnel_revenue(first: int, convs: Sequence[Fraction], avg_value: Fraction | int) -> Fraction:
    """Prospects entering the first stage × the product of the conversions × the average deal value."""
    product = Fraction(1)
    for conversion in convs:
        product *= conversion
    return first * product * Fraction(avg_value)


def lifted(convs: Sequence[Fraction], index: int, lift: Fraction) -> list[Fraction]:
    """The conversions with stage ``index`` raised by ``lift`` (1 pp = 1/100), never above 100 %."""
    out = list(convs)
    out[index] = min(out[index] + lift, Fraction(1))
    return out


def revenue_gain(
    first: int, convs: Sequence[Fraction], avg_value: Fraction | int, index: int, lift: Fraction
) -> Fraction:
    """The revenue added by ``lift`` on stage ``index``'s conversion, every other conversion fixed."""
    return funnel_revenue(first, lifted(convs, index, lift), avg_value) - funnel_revenue(first, convs, avg_value)


def idea_score(gain: Fraction, confidence: int, effort: str) -> Fraction:
    """revenue × confidence (0–100 %) ÷ effort weight (S = 1, M = 2, L = 3)."""
    return gain * Fraction(confidence, 100) / EFFORT_WEIGHTS[Effort(effort)]


def round_cents(value: Fraction) -> int:
    """To the nearest whole cent, halves away from zero."""
    magnitude = abs(value)
    rounded = (2 * magnitude.numerator + magnitude.denominator) // (2 * magnitude.denominator)
    return -rounded if value < 0 else rounded


def money(cents: int) -> str:
    """12345678 → '123,456.78'."""
    return f"{Decimal(cents).scaleb(-2):,.2f}"


def percent(value: Fraction | None, places: int = 1) -> str:
    """A fraction as a percentage: Fraction(1, 3) → '33.3 %'; None → '—'."""
    if value is None:
        return "—"
    exact = Decimal(value.numerator * 100) / Decimal(value.denominator)
    return f"{exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)} %"


def points(centi_pp: int) -> str:
    """Hundredths of a percentage point for people: 250 → '+2.5 pp'."""
    text = f"{Decimal(centi_pp).scaleb(-2):f}".rstrip("0").rstrip(".")
    return f"+{text} pp"


def decimal_text(value: Fraction, places: int = 2) -> str:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return str(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def average(value: Fraction | None) -> str:
    return "—" if value is None else decimal_text(value, 1)
