"""Which stage, and which idea, would add the most revenue: the ranking, its two charts and its CSV.

Every transition stage's revenue for +1 percentage point of conversion, and every idea's revenue for its
own lift and its score (revenue × confidence ÷ effort weight), ranked; the PDF is rendered by the route.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from program.charts import bar_chart
from program.reviews.funnel.maths import (
    ONE_PP,
    conversions,
    decimal_text,
    funnel_revenue,
    idea_score,
    lifted,
    revenue_gain,
    round_cents,
)
from program.reviews.funnel.models import EFFORT_WEIGHTS, Effort
from program.reviews.funnel.services import FunnelView, IdeaView, funnel_view, ideas_for, snapshot_for
from program.spreadsheet import neutralise


@dataclass(frozen=True)
class StageGain:
    rank: int
    stage_id: int
    name: str
    entering: int
    conversion: Fraction
    unknown: bool
    lifted_to: Fraction
    gain_cents: int
    capped: bool


@dataclass(frozen=True)
class IdeaGain:
    rank: int
    idea: IdeaView
    conversion: Fraction
    lifted_to: Fraction
    weight: int
    gain_cents: int
    score_cents: int
    capped: bool


@dataclass(frozen=True)
class SensitivityReport:
    funnel: FunnelView | None
    first_entering: int
    last_entering: int
    conversions: tuple[Fraction, ...]
    baseline_cents: int
    stages: tuple[StageGain, ...]  # ranked by revenue added
    ideas: tuple[IdeaGain, ...]  # ranked by score


def sensitivity(funnel: FunnelView | None, ideas: Sequence[IdeaView]) -> SensitivityReport:
    """Every transition stage's +1 pp revenue and every idea's revenue and score, ranked (pure)."""
    if funnel is None:
        return SensitivityReport(None, 0, 0, (), 0, (), ())
    entering = [s.entering for s in funnel.stages]
    convs = conversions(entering)
    first, value = entering[0], funnel.avg_value_cents
    base = funnel_revenue(first, convs, value)
    stage_rows = []
    for i, stage in enumerate(funnel.transition_stages):
        new = lifted(convs, i, ONE_PP)[i]
        gain = revenue_gain(first, convs, value, i, ONE_PP)
        stage_rows.append((gain, i, stage, new))
    stage_rows.sort(key=lambda r: (-r[0], r[1]))
    stage_gains = tuple(
        StageGain(
            rank,
            stage.id,
            stage.name,
            stage.entering,
            convs[i],
            stage.unknown,
            new,
            round_cents(gain),
            new - convs[i] < ONE_PP,
        )
        for rank, (gain, i, stage, new) in enumerate(stage_rows, start=1)
    )
    index_of = {s.id: i for i, s in enumerate(funnel.transition_stages)}
    idea_rows = []
    for idea in ideas:
        i = index_of.get(idea.stage_id)
        if i is None:  # its stage became the last one; save_funnel refuses that, but never divide by it
            continue
        lift = Fraction(idea.lift_centi_pp, 10000)
        gain = revenue_gain(first, convs, value, i, lift)
        score = idea_score(gain, idea.confidence, idea.effort)
        new = lifted(convs, i, lift)[i]
        idea_rows.append((score, gain, idea, convs[i], new, new - convs[i] < lift))
    idea_rows.sort(key=lambda r: (-r[0], -r[1], r[2].id))
    idea_gains = tuple(
        IdeaGain(
            rank, idea, conv, new, EFFORT_WEIGHTS[Effort(idea.effort)], round_cents(gain), round_cents(score), capped
        )
        for rank, (score, gain, idea, conv, new, capped) in enumerate(idea_rows, start=1)
    )
    return SensitivityReport(funnel, first, entering[-1], tuple(convs), round_cents(base), stage_gains, idea_gains)


def sensitivity_report(activity_id: int) -> SensitivityReport:
    return sensitivity(funnel_view(snapshot_for(activity_id)), ideas_for(activity_id))


def _units(cents: int) -> float:
    return float(Decimal(cents).scaleb(-2).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def sensitivity_charts(report: SensitivityReport):
    """The two bar charts of the page and the PDF: revenue added per stage (+1 pp), score per idea."""
    stage_chart = bar_chart(
        "Revenue added by +1 pp of conversion, per stage",
        [(s.name, _units(s.gain_cents)) for s in report.stages],
        chart_id="chart-stage-sensitivity",
    )
    idea_chart = bar_chart(
        "Ideas ranked by score (revenue × confidence ÷ effort weight)",
        [(f"{g.rank}. {g.idea.title}", _units(g.score_cents)) for g in report.ideas[:15]],
        chart_id="chart-idea-scores",
    )
    return stage_chart, idea_chart


SENSITIVITY_COLUMNS = (
    "type",
    "rank",
    "name",
    "stage",
    "team",
    "conversion_pct",
    "lift_pp",
    "confidence_pct",
    "effort",
    "effort_weight",
    "revenue_added",
    "score",
)


def sensitivity_csv(report: SensitivityReport) -> str:
    """One row per stage (+1 pp) and per idea, ranked; text cells neutralised against formulas."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(SENSITIVITY_COLUMNS)
    for s in report.stages:
        writer.writerow(
            [
                neutralise(c)
                for c in (
                    "stage",
                    s.rank,
                    s.name,
                    s.name,
                    "",
                    decimal_text(s.conversion * 100),
                    "1",
                    "",
                    "",
                    "",
                    str(Decimal(s.gain_cents).scaleb(-2)),
                    "",
                )
            ]
        )
    for g in report.ideas:
        i = g.idea
        writer.writerow(
            [
                neutralise(c)
                for c in (
                    "idea",
                    g.rank,
                    i.title,
                    i.stage_name,
                    i.team_name,
                    decimal_text(g.conversion * 100),
                    f"{Decimal(i.lift_centi_pp).scaleb(-2)}",
                    i.confidence,
                    i.effort,
                    g.weight,
                    str(Decimal(g.gain_cents).scaleb(-2)),
                    str(Decimal(g.score_cents).scaleb(-2)),
                )
            ]
        )
    return out.getvalue()
