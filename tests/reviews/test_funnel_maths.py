"""The funnel's pure parts, against numbers worked out by hand: conversions, revenue, stage and idea
sensitivity (a capped stage, a zero-conversion stage, nobody entering), scores, rounding; input checks
for the form and the CSV files (each problem named by its line); and the mini-team draw."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import pytest

from program.errors import ValidationFailed
from program.reviews.funnel import inputs, maths, sensitivity, services
from program.reviews.funnel.inputs import (
    InputProblems,
    RawStage,
    StageInput,
    check_stages,
    parse_deals_csv,
    parse_funnel_csv,
)
from program.reviews.funnel.maths import conversions, funnel_revenue, idea_score, revenue_gain, round_cents
from program.reviews.funnel.teams import plan_teams

# Lead 1000 → MQL 400 → SQL 100 → Opportunity 40 → Won 10; an average deal of 5,000.00.
ENTERING = [1000, 400, 100, 40, 10]
AVG_CENTS = 500_000


def _gain_cents(entering, avg_cents, index, lift=maths.ONE_PP) -> int:
    return round_cents(revenue_gain(entering[0], conversions(entering), avg_cents, index, lift))


# --- maths ---------------------------------------------------------------------------------------


def test_conversions_are_next_over_this_and_the_last_stage_has_none():
    assert conversions(ENTERING) == [Fraction(2, 5), Fraction(1, 4), Fraction(2, 5), Fraction(1, 4)]


def test_revenue_is_first_times_product_of_conversions_times_value_and_equals_won_times_value():
    revenue = funnel_revenue(1000, conversions(ENTERING), AVG_CENTS)
    # 1000 × 0.4 × 0.25 × 0.4 × 0.25 = 10 won deals; 10 × 5,000.00 = 50,000.00
    assert revenue == 10 * AVG_CENTS == 5_000_000


def test_each_stage_plus_one_point_by_hand():
    # Lead 40 % → 41 %: 1000 × .41 × .25 × .4 × .25 = 10.25 won → 51,250.00: +1,250.00
    assert _gain_cents(ENTERING, AVG_CENTS, 0) == 125_000
    # MQL 25 % → 26 %: 10.4 won → 52,000.00: +2,000.00
    assert _gain_cents(ENTERING, AVG_CENTS, 1) == 200_000
    # SQL 40 % → 41 %: +1,250.00; Opportunity 25 % → 26 %: +2,000.00
    assert _gain_cents(ENTERING, AVG_CENTS, 2) == 125_000
    assert _gain_cents(ENTERING, AVG_CENTS, 3) == 200_000


def test_ideas_revenue_and_score_by_hand():
    convs = conversions(ENTERING)
    # MQL +5 pp (25 % → 30 %): 12 won → 60,000.00, +10,000.00; 60 % confident, effort M (2): score 3,000.00
    mql = revenue_gain(1000, convs, AVG_CENTS, 1, Fraction(5, 100))
    assert round_cents(mql) == 1_000_000
    assert round_cents(idea_score(mql, 60, "M")) == 300_000
    # Opportunity +2.5 pp (25 % → 27.5 %): 11 won → 55,000.00, +5,000.00; 80 %, effort S (1): score 4,000.00
    opp = revenue_gain(1000, convs, AVG_CENTS, 3, Fraction(250, 10000))
    assert round_cents(opp) == 500_000
    assert round_cents(idea_score(opp, 80, "S")) == 400_000
    # Effort L weighs 3: 10,000.00 × 90 % ÷ 3 = 3,000.00
    assert round_cents(idea_score(mql, 90, "L")) == 300_000


def test_a_stage_with_zero_conversion_has_zero_revenue_and_a_finite_gain():
    entering = [1000, 400, 100, 50, 0]  # nobody won: Opportunity converts 0 %
    convs = conversions(entering)
    assert convs[-1] == 0
    assert funnel_revenue(1000, convs, 1_000_000) == 0
    # Opportunity 0 % → 1 %: 50 × 0.01 = 0.5 won × 10,000.00 = 5,000.00
    assert _gain_cents(entering, 1_000_000, 3) == 500_000
    # Any other stage: the product still holds the 0 %, so nothing is added (and nothing divides by zero).
    assert [_gain_cents(entering, 1_000_000, i) for i in range(3)] == [0, 0, 0]


def test_a_stage_nobody_entered_converts_zero_instead_of_dividing_by_zero():
    entering = [100, 0, 0, 0]
    assert conversions(entering) == [0, 0, 0]
    assert [_gain_cents(entering, 10_000, i) for i in range(3)] == [0, 0, 0]
    assert conversions([0, 0]) == [0]
    assert funnel_revenue(0, conversions([0, 0]), 10_000) == 0


def test_a_lift_is_capped_at_one_hundred_percent():
    # A 200 → B 199 (99.5 %), 100.00 each: +1 pp can only reach 100 %: 200 × 1.00 × 100.00 − 19,900.00 = +100.00
    assert _gain_cents([200, 199], 10_000, 0) == 10_000
    assert _gain_cents([200, 200], 10_000, 0) == 0  # already 100 %
    assert _gain_cents([200, 199], 10_000, 0, Fraction(50, 100)) == 10_000


def test_money_is_exact_and_rounded_half_up_to_cents():
    # Lead 7 → MQL 3 → Won 2 at 10.00: base 2 × 10.00 = 20.00.
    # Lead 3/7 + 1 pp: 7 × (3/7 + 0.01) × 2/3 × 10.00 = 20.4666… → +0.4666… → 0.47
    assert _gain_cents([7, 3, 2], 1_000, 0) == 47
    # MQL 2/3 + 1 pp: 3 × (2/3 + 0.01) × 10.00 = 20.30 → +0.30
    assert _gain_cents([7, 3, 2], 1_000, 1) == 30
    assert round_cents(Fraction(1, 2)) == 1
    assert round_cents(Fraction(-1, 2)) == -1
    assert round_cents(Fraction(149, 100)) == 1


def test_sensitivity_ranks_stages_and_ideas():
    view = services.FunnelView(
        snapshot_id=1,
        period_label="Q3",
        avg_value_cents=AVG_CENTS,
        team_seed="",
        updated_at=None,
        stages=tuple(
            services.StageView(i + 1, i, name, n, None, False, None, None, (), i == 4)
            for i, (name, n) in enumerate(zip(["Lead", "MQL", "SQL", "Opportunity", "Won"], ENTERING, strict=True))
        ),
    )

    def idea(idea_id, stage_id, lift, confidence, effort):
        return services.IdeaView(idea_id, f"idea {idea_id}", stage_id, "", None, "", lift, confidence, effort, 1, "")

    report = sensitivity.sensitivity(
        view, [idea(1, 2, 500, 60, "M"), idea(2, 4, 250, 80, "S"), idea(3, 2, 500, 90, "L")]
    )
    assert report.baseline_cents == 5_000_000
    # Ties (MQL and Opportunity both +2,000.00) keep funnel order.
    assert [(s.name, s.gain_cents) for s in report.stages] == [
        ("MQL", 200_000),
        ("Opportunity", 200_000),
        ("Lead", 125_000),
        ("SQL", 125_000),
    ]
    # Idea 2 scores 4,000.00; ideas 1 and 3 tie at 3,000.00 on score and revenue, so the older comes first.
    assert [(g.rank, g.idea.id, g.gain_cents, g.score_cents) for g in report.ideas] == [
        (1, 2, 500_000, 400_000),
        (2, 1, 1_000_000, 300_000),
        (3, 3, 1_000_000, 300_000),
    ]
    assert report.ideas[0].weight == 1 and report.ideas[2].weight == 3


def test_formatting_helpers():
    assert maths.money(123_456_78) == "123,456.78"
    assert maths.money(5) == "0.05"
    assert maths.percent(Fraction(1, 3)) == "33.3 %"
    assert maths.percent(Fraction(1, 8)) == "12.5 %"
    assert maths.percent(None) == "—"
    assert maths.points(250) == "+2.5 pp"
    assert maths.points(100) == "+1 pp"


# --- checking stages (form) ----------------------------------------------------------------------


def _rows(*pairs):
    return [RawStage(name, count, f"Row {i + 1}") for i, (name, count) in enumerate(pairs)]


def _problems(rows) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(InputProblems) as caught:
        check_stages(rows)
    return [(p.row, p.field, str(p)) for p in caught.value.problems]


def test_good_stages_pass_and_blank_rows_are_ignored():
    rows = _rows(("Lead", "1,200"), ("", ""), ("MQL", " 480 "), ("Won", "0"), ("", ""))
    assert check_stages(rows) == [StageInput("Lead", 1200), StageInput("MQL", 480), StageInput("Won", 0)]


def test_a_count_larger_than_the_stage_before_is_named():
    problems = _problems(_rows(("Lead", "100"), ("MQL", "120"), ("Won", "10")))
    assert problems == [(1, "entering", "Row 2: “MQL” has 120, more than the 100 entering “Lead” before it.")]


def test_negative_missing_and_non_numbers_are_named():
    problems = _problems(_rows(("Lead", "100"), ("MQL", "-5"), ("SQL", ""), ("", "4"), ("Won", "two")))
    assert problems == [
        (1, "entering", "Row 2: the number entering “MQL” can't be negative (-5)."),
        (2, "entering", "Row 3: the number entering “SQL” is missing."),
        (3, "name", "Row 4: the stage name is missing (its count is 4)."),
        (4, "entering", "Row 5: “two” is not a whole number of prospects."),
    ]


def test_too_few_stages_duplicates_and_an_empty_first_stage():
    assert _problems(_rows(("Lead", "100"))) == [
        (
            None,
            None,
            "Give at least two stages (for example Lead and Won): a conversion needs a stage and the one after it.",
        )
    ]
    assert _problems(_rows(("Lead", "100"), ("lead", "50"))) == [
        (1, "name", "Row 2: the stage “lead” appears twice (also Row 1).")
    ]
    assert _problems(_rows(("Lead", "0"), ("Won", "0"))) == [
        (0, "entering", "Row 1: the first stage needs at least one prospect.")
    ]


def test_money_parsing():
    assert inputs.parse_money("24,000.50") == 2_400_050
    assert inputs.parse_money("0") == 0
    for bad, words in (
        ("", "Give the average"),
        ("-1", "negative"),
        ("1.005", "two decimals"),
        ("abc", "not an amount"),
        ("NaN", "not an amount"),
    ):
        with pytest.raises(ValidationFailed, match=words):
            inputs.parse_money(bad)


def test_lift_parsing():
    assert inputs.parse_lift("2.5") == 250
    assert inputs.parse_lift("100") == 10_000
    for bad, words in (
        ("0", "more than 0"),
        ("-1", "more than 0"),
        ("100.01", "more than 100"),
        ("1.234", "two decimals"),
        ("", "Give the expected lift"),
        ("x", "Give the expected lift"),
    ):
        with pytest.raises(ValidationFailed, match=words):
            inputs.parse_lift(bad)


# --- CSV files -----------------------------------------------------------------------------------


def _csv_problems(parse, content, *args) -> list[str]:
    with pytest.raises(InputProblems) as caught:
        parse(content, *args)
    return [str(p) for p in caught.value.problems]


def test_funnel_csv_reads_a_good_file_and_refuses_ambiguous_numbers():
    content = '\ufeffStage, Entering\r\nLead,1200\r\nMQL,480\r\n\r\nSQL,"1,50"\r\n'
    # "1,50" is not a thousands-separated number: it is refused, not read as 150 or 1.5.
    assert _csv_problems(parse_funnel_csv, content.replace("\ufeff", "")) == [
        "Line 5: “1,50” is not a whole number of prospects."
    ]
    good = "stage,entering\nLead,1200\nMQL,480\nSQL,150\nOpportunity,60\nWon,15\n"
    assert [s.entering for s in parse_funnel_csv(good)] == [1200, 480, 150, 60, 15]


def test_funnel_csv_errors_name_each_line():
    content = "stage,entering\nLead,1000\nMQL,1200\nSQL,-3\n,40\nOpportunity,20,extra\nWon\n"
    assert _csv_problems(parse_funnel_csv, content) == [
        "Line 3: “MQL” has 1,200, more than the 1,000 entering “Lead” before it.",
        "Line 4: the number entering “SQL” can't be negative (-3).",
        "Line 5: the stage name is missing (its count is 40).",
        "Line 6: expected 2 values (stage, entering), found 3.",
        "Line 7: expected 2 values (stage, entering), found 1.",
    ]


def test_funnel_csv_header_and_empty_files():
    assert _csv_problems(parse_funnel_csv, "") == [
        "The file is empty. Its first line should be the header: stage, entering."
    ]
    assert _csv_problems(parse_funnel_csv, "name,count\nLead,3\n") == [
        "Line 1: the header must name the columns stage, entering (it lacks stage, entering)."
    ]
    assert _csv_problems(parse_funnel_csv, "stage,entering\n") == ["The file has a header but no stages."]
    assert _csv_problems(parse_funnel_csv, "stage,entering\nLead,10\n") == [
        "Give at least two stages (for example Lead and Won): a conversion needs a stage and the one after it."
    ]


def test_deals_csv_good_file_normalises_outcomes():
    content = "deal,segment,outcome,lead_source\nAcme,Enterprise,Won,Webinar\nGlobex,SMB,no decision,Outbound\nInitech,,LOST,\n"
    deals = parse_deals_csv(content)
    assert [(d.name, d.segment, d.outcome, d.lead_source) for d in deals] == [
        ("Acme", "Enterprise", "won", "Webinar"),
        ("Globex", "SMB", "no_decision", "Outbound"),
        ("Initech", "", "lost", ""),
    ]


def test_deals_csv_errors_name_each_line():
    content = (
        "deal,segment,outcome,lead_source\n"
        "Acme,Enterprise,won,Webinar\n"
        ",SMB,lost,Outbound\n"
        "Globex,SMB,maybe,Outbound\n"
        "acme,SMB,lost,Event\n"
        "Initech,SMB,lost\n"
        "Hooli,SMB,won,Partner\n"
    )
    assert _csv_problems(parse_deals_csv, content, ["Hooli"]) == [
        "Line 3: the deal name is missing.",
        "Line 4: the outcome “maybe” is not won, lost or no decision.",
        "Line 5: the deal “acme” appears twice (also line 2).",
        "Line 6: expected 4 values (deal, segment, outcome, lead_source), found 3.",
        "Line 7: the deal “Hooli” is already in the list.",
    ]


def test_broken_quoting_is_named_by_the_line_it_starts_on():
    content = 'deal,segment,outcome,lead_source\nAcme,Enterprise,won,Webinar\n"Glo"bex,SMB,lost,x\n'
    assert _csv_problems(parse_deals_csv, content) == [
        "Line 3: not valid CSV (',' expected after '\"'); check its quotes. Nothing after it was read."
    ]
    content = 'stage,entering\nLead,10\n"Won,3\n'
    assert _csv_problems(parse_funnel_csv, content) == [
        "Line 3: not valid CSV (unexpected end of data); check its quotes. Nothing after it was read."
    ]


# --- mini-teams ----------------------------------------------------------------------------------

STAGES = [11, 12, 13, 14]  # the transition stages (Lead, MQL, SQL, Opportunity)


def _functions(plans, people) -> list[Counter]:
    fn = dict(people)
    return [Counter(fn[m] for m in p.members) for p in plans]


def test_an_odd_count_makes_pairs_and_one_three_each_mixing_sales_and_marketing():
    people = [(1, "sales"), (2, "sales"), (3, "marketing"), (4, "marketing"), (5, "marketing")]
    for seed in (f"seed-{n}" for n in range(12)):
        plans = plan_teams(people, STAGES, seed)
        assert sorted(len(p.members) for p in plans) == [2, 3]
        assert all(c["sales"] >= 1 and c["marketing"] >= 1 for c in _functions(plans, people)), seed
        assert sorted(m for p in plans for m in p.members) == [1, 2, 3, 4, 5]


def test_one_sided_attendance_still_makes_pairs_and_a_three():
    people = [(i, "sales") for i in range(1, 8)]
    plans = plan_teams(people, STAGES, "x")
    assert sorted(len(p.members) for p in plans) == [2, 2, 3]
    people = [(i, "marketing") for i in range(1, 5)]
    assert sorted(len(p.members) for p in plan_teams(people, STAGES, "x")) == [2, 2]


def test_mixing_as_many_teams_as_the_minority_allows():
    # One marketer among five salespeople: exactly one mixed team is possible, and it is made.
    people = [(1, "marketing")] + [(i, "sales") for i in range(2, 7)]
    plans = plan_teams(people, STAGES, "abc")
    assert len(plans) == 3
    assert sum(1 for c in _functions(plans, people) if c["sales"] and c["marketing"]) == 1
    # Three and three: every pair is mixed, whatever the seed.
    people = [(1, "sales"), (2, "sales"), (3, "sales"), (4, "marketing"), (5, "marketing"), (6, "marketing")]
    for seed in ("a", "b", "c", "d"):
        assert all(
            c["sales"] == 1 and c["marketing"] == 1 for c in _functions(plan_teams(people, STAGES, seed), people)
        )


def test_people_of_other_functions_fill_in():
    people = [(1, "sales"), (2, "marketing"), (3, "other"), (4, "other"), (5, "other")]
    plans = plan_teams(people, STAGES, "s")
    assert sorted(len(p.members) for p in plans) == [2, 3]
    assert any(c["sales"] and c["marketing"] for c in _functions(plans, people))


def test_the_draw_is_deterministic_for_a_seed_and_varies_between_seeds():
    people = [(i, "sales" if i % 2 else "marketing") for i in range(1, 11)]
    first = plan_teams(people, STAGES, "2026-q3")
    again = plan_teams(list(reversed(people)), STAGES, "2026-q3")  # order of input doesn't matter
    assert [(p.members, p.stage_ids) for p in first] == [(p.members, p.stage_ids) for p in again]
    draws = {tuple(tuple(sorted(p.members)) for p in plan_teams(people, STAGES, f"seed-{n}")) for n in range(6)}
    assert len(draws) > 1


def test_stages_are_dealt_round_robin_and_balanced():
    # 3 teams, 4 stages: every stage once; teams get 2, 1, 1.
    people = [(i, "sales" if i % 2 else "marketing") for i in range(1, 7)]
    plans = plan_teams(people, STAGES, "q")
    assert sorted(s for p in plans for s in p.stage_ids) == STAGES
    assert sorted(len(p.stage_ids) for p in plans) == [1, 1, 2]
    # 5 teams, 4 stages: every team one stage; one stage has two teams.
    people = [(i, "sales" if i % 2 else "marketing") for i in range(1, 11)]
    plans = plan_teams(people, STAGES, "q")
    assert all(len(p.stage_ids) == 1 for p in plans)
    assert sorted(Counter(s for p in plans for s in p.stage_ids).values()) == [1, 1, 1, 2]


def test_fewer_than_two_people_or_no_stages_is_refused():
    with pytest.raises(ValidationFailed, match="at least two attendees"):
        plan_teams([(1, "sales")], STAGES, "s")
    with pytest.raises(ValidationFailed, match="at least two stages"):
        plan_teams([(1, "sales"), (2, "marketing")], [], "s")
    assert [p.members for p in plan_teams([(1, "sales"), (2, "sales"), (3, "sales")], STAGES, "s")] != []
