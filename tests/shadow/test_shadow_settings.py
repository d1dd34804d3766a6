"""SHADOW_REPEAT_MONTHS, as documented in the README: read from the environment, and it decides how long
two leaders are neither suggested nor allowed as shadow partners again."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from program.config import Config
from program.errors import ValidationFailed
from program.shadow import services as shadow

MON, TUE = date(2026, 11, 30), date(2026, 12, 1)


def test_the_setting_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv("SHADOW_REPEAT_MONTHS", raising=False)
    assert Config().SHADOW_REPEAT_MONTHS == 12
    monkeypatch.setenv("SHADOW_REPEAT_MONTHS", "3")
    assert Config().SHADOW_REPEAT_MONTHS == 3


def test_an_unreadable_setting_says_which_one(monkeypatch):
    monkeypatch.setenv("SHADOW_REPEAT_MONTHS", "six")
    with pytest.raises(ValueError, match="SHADOW_REPEAT_MONTHS"):
        Config()


def _paired_five_months_ago(make, now):
    s = make.user(role="leader", department="Sales", name="Sam Sales")
    m = make.user(role="leader", department="Marketing", name="Mia Marketing")
    then = now - timedelta(days=150)  # Friday 26 June 2026
    pairing = shadow.propose_pairing(s, s, m, date(2026, 6, 29), date(2026, 6, 30), then)
    pairing.status = "completed"
    return s, m


def test_a_shorter_window_lets_an_earlier_pair_meet_again(app, make, now):
    s, m = _paired_five_months_ago(make, now)
    app.config["SHADOW_REPEAT_MONTHS"] = 12
    assert [u.name for u, _ in shadow.suggest_partners(s, now)] == []
    with pytest.raises(ValidationFailed) as info:
        shadow.propose_pairing(s, s, m, MON, TUE, now)
    assert "paired in the last 12 months" in info.value.errors["marketing_leader_id"]

    app.config["SHADOW_REPEAT_MONTHS"] = 3
    assert [(u.name, n) for u, n in shadow.suggest_partners(s, now)] == [("Mia Marketing", 1)]
    assert shadow.propose_pairing(s, s, m, MON, TUE, now).marketing_leader_id == m.id


def test_a_longer_window_keeps_them_apart(app, make, now):
    s, m = _paired_five_months_ago(make, now)
    app.config["SHADOW_REPEAT_MONTHS"] = 4
    assert [u.name for u, _ in shadow.suggest_partners(s, now)] == ["Mia Marketing"]
    app.config["SHADOW_REPEAT_MONTHS"] = 6
    assert shadow.suggest_partners(s, now) == []
    with pytest.raises(ValidationFailed) as info:
        shadow.propose_pairing(s, s, m, MON, TUE, now)
    assert "paired in the last 6 months" in info.value.errors["marketing_leader_id"]


def test_the_app_takes_the_setting_from_the_environment(monkeypatch, database_url):
    from tests.conftest import make_app

    monkeypatch.setenv("SHADOW_REPEAT_MONTHS", "5")
    assert make_app(database_url).config["SHADOW_REPEAT_MONTHS"] == 5


def test_the_window_counts_calendar_months(app):
    from datetime import UTC, datetime

    app.config["SHADOW_REPEAT_MONTHS"] = 3
    assert shadow.repeat_since(datetime(2027, 5, 31, 9, tzinfo=UTC)) == datetime(2027, 2, 28, 9, tzinfo=UTC)
    app.config["SHADOW_REPEAT_MONTHS"] = 12
    assert shadow.repeat_since(datetime(2026, 11, 23, 10, tzinfo=UTC)) == datetime(2025, 11, 23, 10, tzinfo=UTC)


def test_the_suggestions_say_how_long_the_window_is(app, make, login):
    s = make.user(role="leader", department="Sales", name="Sam Sales")
    make.user(role="leader", department="Marketing", name="Mia Marketing")
    app.config["SHADOW_REPEAT_MONTHS"] = 3
    html = login(s).get("/shadow-days/").get_data(as_text=True)
    assert "Mia Marketing" in html and "not paired with you in the last 3 months" in html
