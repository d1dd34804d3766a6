"""Funnel and playback pages: who may see and do what (each role against each URL), the happy and unhappy
path of every form, and the exports read back by independent readers (csv, pypdf)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from program.activities.models import Participation
from program.debriefs.defaults import ensure_codebook
from program.extensions import db
from program.pdf import html_to_pdf
from program.reviews.funnel import playback, services
from program.reviews.funnel import teams as mini_teams
from program.reviews.funnel.models import DealFeedback, FunnelIdea, FunnelSnapshot, FunnelTeam, PlaybackDeal
from tests.factories.reviews import DEALS_CSV, code, make_meeting, save, stage_id

BASE = "/meetings/funnel"


@pytest.fixture
def world(make, now):
    """A past meeting hosted by a marketing leader (whose manager is a director) with a salesperson and
    a marketer attending, a saved funnel and two deals; plus an outsider of each kind."""
    ensure_codebook(now)
    director = make.user(role="leader", department="Marketing")
    host = make.user(role="leader", department="Marketing", manager=director)
    sales, marketer = make.user(department="Sales"), make.marketer()
    left = make.marketer()
    meeting = make_meeting(make, now, host=host, people=[sales, marketer, (left, "cancelled_by_user", "no")])
    save(meeting, host)
    playback.import_deals(meeting, host, DEALS_CSV, now)
    db.session.commit()
    return {
        "meeting": meeting,
        "host": host,
        "director": director,
        "sales": sales,
        "marketer": marketer,
        "left": left,
        "stranger": make.user(department="Sales"),
        "hr": make.user(role="hr", department="People"),
        "leader": make.user(role="leader", department="Sales"),
        "admin": make.user(role="admin", department=None),
    }


def _url(meeting, path: str = "") -> str:
    return f"{BASE}/{meeting.id}{path}"


READ_PATHS = ["", "/teams", "/ideas", "/sensitivity", "/sensitivity.csv", "/deals", "/deals/summary"]
EDIT_PATHS = ["/stages", "/upload", "/deals/upload", "/sample.csv"]


@pytest.mark.parametrize(
    ("who", "read", "edit"),
    [
        ("stranger", 404, 404),
        ("left", 404, 404),  # cancelled their place: no longer a participant
        ("sales", 200, 403),
        ("marketer", 200, 403),
        ("hr", 200, 403),
        ("leader", 200, 403),
        ("host", 200, 200),
        ("director", 200, 200),  # the host's manager
        ("admin", 200, 200),
    ],
)
def test_each_role_against_each_page(world, login, who, read, edit):
    client = login(world[who])
    meeting = world["meeting"]
    for path in READ_PATHS:
        assert client.get(_url(meeting, path)).status_code == read, path
    for path in EDIT_PATHS:
        assert client.get(_url(meeting, path)).status_code == edit, path


def test_feedback_page_is_for_attendees_and_the_host(world, login):
    meeting = world["meeting"]
    deal = db.session.scalar(select(PlaybackDeal).where(PlaybackDeal.name == "Acme"))
    path = _url(meeting, f"/deals/{deal.id}/feedback")
    expected = {
        "stranger": 404,
        "left": 404,
        "hr": 403,
        "leader": 403,
        "admin": 403,
        "director": 403,
        "sales": 200,
        "marketer": 200,
        "host": 200,
    }
    for who, status in expected.items():
        assert login(world[who]).get(path).status_code == status, who


def test_facilitator_posts_are_refused_to_readers_and_hidden_from_strangers(world, login):
    meeting = world["meeting"]
    deal = db.session.scalar(select(PlaybackDeal).where(PlaybackDeal.name == "Acme"))
    posts = [
        ("/stages", {}),
        ("/upload", {}),
        ("/reasons", {}),
        ("/reasons/1/delete", {}),
        ("/teams", {}),
        ("/teams/swap", {}),
        ("/deals", {"name": "X", "outcome": "won"}),
        ("/deals/upload", {}),
        (f"/deals/{deal.id}/delete", {}),
    ]
    for who, status in (("stranger", 404), ("marketer", 403), ("hr", 403)):
        client = login(world[who])
        for path, data in posts:
            assert client.post(_url(meeting, path), data=data).status_code == status, (who, path)
    assert db.session.scalar(select(func.count(PlaybackDeal.id))) == 4


def test_other_kinds_missing_meetings_and_anonymous_visitors(world, make, now, login, client):
    ride = make_meeting(make, now, kind="ride_along")
    admin = login(world["admin"])
    assert admin.get(_url(ride)).status_code == 404
    assert admin.get(f"{BASE}/999999").status_code == 404
    assert admin.get(f"{BASE}/").status_code == 404
    response = client.get(_url(world["meeting"]))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- the funnel --------------------------------------------------------------------------------------


def test_workspace_shows_conversions_and_the_share_lost(world, login):
    html = login(world["sales"]).get(_url(world["meeting"])).get_data(as_text=True)
    assert "Funnel reality check" in html
    assert re.search(
        r"MQL</th>\s*<td class=\"num\">400</td>\s*<td class=\"num\">25.0 %</td>\s*<td class=\"num\">300</td>\s*"
        r"<td class=\"num\">75.0 %</td>",
        html,
    )
    assert "1.0 %: 10 of 1,000 reach “Won”" in html
    assert "Edit the funnel" not in html  # readers get no edit controls


def test_stage_form_starts_with_the_default_stages(make, now, login):
    host = make.user(role="leader", department="Marketing")
    meeting = make_meeting(make, now, host=host)
    html = login(host).get(_url(meeting, "/stages")).get_data(as_text=True)
    names = re.findall(r'name="stages-\d+-name" type="text" value="([^"]*)"', html)
    assert names[:6] == ["Lead", "MQL", "SQL", "Opportunity", "Won", ""]


def _stage_post(period="Q4", value="10,000", rows=()):
    data = {"period_label": period, "avg_deal_value": value}
    for i, (name, count) in enumerate(rows):
        data[f"stages-{i}-name"] = name
        data[f"stages-{i}-entering"] = count
    return data


def test_stage_form_errors_sit_beside_their_rows_and_keep_what_was_typed(world, login):
    client = login(world["host"])
    rows = [("Lead", "500"), ("MQL", "600"), ("SQL", "-4"), ("", "3"), ("Won", "")]
    response = client.post(_url(world["meeting"], "/stages"), data=_stage_post(value="-1", rows=rows))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="stages-1-entering-error">“MQL” has 600, more than the 500 entering “Lead” before it.' in html
    assert 'id="stages-2-entering-error">The number entering “SQL” can&#39;t be negative (-4).' in html
    assert 'id="stages-3-name-error">The stage name is missing (its count is 3).' in html
    assert 'id="stages-4-entering-error">The number entering “Won” is missing.' in html
    assert "The average deal value can&#39;t be negative." in html
    assert 'value="600"' in html and 'value="-4"' in html
    view = services.funnel_view(services.snapshot_for(world["meeting"].id))
    assert view.stages[0].entering == 1000  # nothing changed


def test_stage_form_saves_a_new_funnel(world, login):
    client = login(world["director"])
    rows = [("Lead", "2,000"), ("MQL", "500"), ("SQL", "100"), ("Opportunity", "50"), ("Won", "20"), ("", "")]
    response = client.post(_url(world["meeting"], "/stages"), data=_stage_post(rows=rows))
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The funnel is saved." in html and "Q4" in html and "10,000.00" in html
    snapshot = db.session.scalar(select(FunnelSnapshot).execution_options(populate_existing=True))
    assert [s.entering for s in snapshot.stages] == [2000, 500, 100, 50, 20]
    assert snapshot.updated_by_id == world["director"].id


def test_csv_upload_names_bad_lines_and_saves_nothing(world, login):
    client = login(world["host"])
    bad = b"stage,entering\nLead,100\nMQL,120\nSQL,x\n"
    response = client.post(
        _url(world["meeting"], "/upload"),
        data={"period_label": "Q1", "avg_deal_value": "1000", "file": (io.BytesIO(bad), "funnel.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Line 3: “MQL” has 120, more than the 100 entering “Lead” before it." in html
    assert "Line 4: “x” is not a whole number of prospects." in html
    assert services.snapshot_for(world["meeting"].id).period_label == "Q3 2026"
    not_utf8 = client.post(
        _url(world["meeting"], "/upload"),
        data={"avg_deal_value": "1", "file": (io.BytesIO("stage,entering\nLéad,1\n".encode("latin-1")), "f.csv")},
        content_type="multipart/form-data",
    )
    assert "not UTF-8" in not_utf8.get_data(as_text=True)


def test_csv_upload_replaces_the_funnel(world, login):
    client = login(world["host"])
    good = "\ufeffstage,entering\r\nLead,800\r\nMQL,200\r\nWon,20\r\n".encode()
    response = client.post(
        _url(world["meeting"], "/upload"),
        data={"period_label": "October", "avg_deal_value": "2500.50", "file": (io.BytesIO(good), "funnel.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    view = services.funnel_view(services.snapshot_for(world["meeting"].id))
    assert [(s.name, s.entering) for s in view.stages] == [("Lead", 800), ("MQL", 200), ("Won", 20)]
    assert (view.period_label, view.avg_value_cents) == ("October", 250_050)


def test_recording_and_removing_a_loss_reason(world, login):
    meeting, client = world["meeting"], login(world["host"])
    lead = stage_id(meeting, "Lead")
    price = code("Price", "loss_reason").id
    too_many = client.post(_url(meeting, "/reasons"), data={"stage_id": lead, "reason_code_id": price, "count": 601})
    assert too_many.status_code == 422
    assert "Only 600 prospect(s) were lost at “Lead”." in too_many.get_data(as_text=True)
    ok = client.post(_url(meeting, "/reasons"), data={"stage_id": lead, "reason_code_id": price, "count": 120})
    assert ok.status_code == 302
    html = client.get(_url(meeting)).get_data(as_text=True)
    assert "Price: 120" in html
    reason_id = services.funnel_view(services.snapshot_for(meeting.id)).stages[0].reasons[0].id
    assert client.post(_url(meeting, f"/reasons/{reason_id}/delete")).status_code == 302
    assert "Price: 120" not in client.get(_url(meeting)).get_data(as_text=True)


# --- teams and ideas -------------------------------------------------------------------------------


def test_forming_teams_and_swapping_through_the_pages(world, login, make, now):
    meeting, client = world["meeting"], login(world["host"])
    extra = make.user(department="Sales")
    db.session.add(
        Participation(activity_id=meeting.id, user_id=extra.id, state="attended", state_changed_at=now, created_at=now)
    )
    db.session.commit()
    assert client.post(_url(meeting, "/teams"), data={"seed": "fixed"}).status_code == 302
    html = client.get(_url(meeting, "/teams")).get_data(as_text=True)
    assert "Team 1" in html and "Sales + Marketing" in html and "fixed" in html
    assert "Team 2" not in html  # three attendees: one team of three
    teams = mini_teams.teams_for(meeting.id)
    assert len(teams) == 1 and len(teams[0].members) == 3
    same = client.post(_url(meeting, "/teams/swap"), data={"user_a": world["sales"].id, "user_b": extra.id})
    assert same.status_code == 422 and "Both are already in the same team." in same.get_data(as_text=True)
    # Readers see the teams but no controls.
    reader = login(world["hr"]).get(_url(meeting, "/teams")).get_data(as_text=True)
    assert "Team 1" in reader and "Form mini-teams" not in reader and "Swap" not in reader


def test_a_member_adds_an_idea_and_others_cannot(world, login, now):
    meeting = world["meeting"]
    mini_teams.form_teams(meeting, world["host"], now, seed="s")
    db.session.commit()
    team = mini_teams.teams_for(meeting.id)[0]
    member = login(world["sales"])
    form_html = member.get(_url(meeting, "/ideas")).get_data(as_text=True)
    assert "Add an idea for Team 1" in form_html
    bad = member.post(
        _url(meeting, "/ideas"),
        data={
            "team_id": team.id,
            "stage_id": team.stages[0][0],
            "title": "Call faster",
            "lift": "abc",
            "confidence": 70,
            "effort": "S",
        },
    )
    assert bad.status_code == 422
    assert "Give the expected lift in percentage points" in bad.get_data(as_text=True)
    assert 'value="Call faster"' in bad.get_data(as_text=True)
    good = member.post(
        _url(meeting, "/ideas"),
        data={
            "team_id": team.id,
            "stage_id": team.stages[0][0],
            "title": "Call faster",
            "lift": "2.5",
            "confidence": 70,
            "effort": "S",
        },
    )
    assert good.status_code == 302
    assert "+2.5 pp" in member.get(_url(meeting, "/ideas")).get_data(as_text=True)
    hr = login(world["hr"])
    assert (
        hr.post(
            _url(meeting, "/ideas"),
            data={"stage_id": team.stages[0][0], "title": "x", "lift": "1", "confidence": 1, "effort": "S"},
        ).status_code
        == 403
    )
    idea_id = db.session.scalar(select(FunnelIdea.id))
    assert hr.post(_url(meeting, f"/ideas/{idea_id}/delete")).status_code == 403
    assert login(world["stranger"]).post(_url(meeting, f"/ideas/{idea_id}/delete")).status_code == 404
    assert member.post(_url(meeting, f"/ideas/{idea_id}/delete")).status_code == 302
    assert db.session.scalar(select(func.count(FunnelIdea.id))) == 0


# --- sensitivity and exports -----------------------------------------------------------------------


def _ideas(meeting, host, now, n: int) -> None:
    stages = ["Lead", "MQL", "SQL", "Opportunity"]
    for i in range(n):
        services.add_idea(
            meeting,
            host,
            team_id=None,
            stage_id=stage_id(meeting, stages[i % 4]),
            title=f"Idea {i}",
            lift=str(1 + i % 5),
            confidence=50 + i,
            effort="SML"[i % 3],
            now=now,
        )
    db.session.commit()


def test_sensitivity_page_explains_the_formula_and_ranks(world, login, now):
    meeting = world["meeting"]
    services.add_idea(
        meeting,
        world["host"],
        team_id=None,
        stage_id=stage_id(meeting, "MQL"),
        title="Nurture track",
        lift="5",
        confidence=60,
        effort="M",
        now=now,
    )
    services.add_idea(
        meeting,
        world["host"],
        team_id=None,
        stage_id=stage_id(meeting, "Opportunity"),
        title="Proposal review",
        lift="2.5",
        confidence=80,
        effort="S",
        now=now,
    )
    db.session.commit()
    html = login(world["marketer"]).get(_url(meeting, "/sensitivity")).get_data(as_text=True)
    assert (
        "Revenue = prospects entering the first stage × the product of the stage conversions × the average deal value."
        in html
    )
    assert "1,000 × 40.0 % × 25.0 % × 40.0 % × 25.0 % × 5,000.00" in html and "50,000.00" in html
    assert "S = 1, M = 2, L = 3" in html
    ranking = re.findall(r'<th scope="row">([^<]+)</th>', html.split('id="idea-ranking"')[1])
    assert ranking == ["Proposal review", "Nurture track"]
    assert "4,000.00" in html and "3,000.00" in html
    assert html.count("<svg") == 2 and 'aria-labelledby="chart-idea-scores-title chart-idea-scores-desc"' in html


def test_sensitivity_page_query_count_does_not_grow_with_ideas(world, login, now, count_queries):
    meeting, client = world["meeting"], login(world["admin"])
    _ideas(meeting, world["host"], now, 3)
    with count_queries() as few:
        assert client.get(_url(meeting, "/sensitivity")).status_code == 200
    _ideas(meeting, world["host"], now, 12)
    with count_queries() as many:
        assert client.get(_url(meeting, "/sensitivity")).status_code == 200
    assert many.count == few.count


def test_sensitivity_csv_download(world, login, now):
    meeting = world["meeting"]
    _ideas(meeting, world["host"], now, 2)
    response = login(world["hr"]).get(_url(meeting, "/sensitivity.csv"))
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["type"] for r in rows] == ["stage"] * 4 + ["idea"] * 2
    assert [r["name"] for r in rows[:4]] == ["MQL", "Opportunity", "Lead", "SQL"]
    assert rows[0]["revenue_added"] == "2000.00"


def test_sensitivity_pdf_has_the_ranked_tables(world, login, now):
    from pypdf import PdfReader

    meeting = world["meeting"]
    services.add_idea(
        meeting,
        world["host"],
        team_id=None,
        stage_id=stage_id(meeting, "Opportunity"),
        title="Proposal review",
        lift="2.5",
        confidence=80,
        effort="S",
        now=now,
    )
    db.session.commit()
    response = login(world["leader"]).get(_url(meeting, "/sensitivity.pdf"))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    text = " ".join(text.split())
    assert "Funnel sensitivity" in text and "Stages ranked by revenue added" in text
    assert "Proposal review" in text and "4,000.00" in text and "5,000.00" in text
    assert "Score = idea revenue × confidence ÷ effort weight" in text


def test_pdf_fetches_nothing_but_static_files(tmp_path, app):
    (tmp_path / "ok.css").write_text("body { color: red; }")
    outside = tmp_path.parent / "secret.css"
    outside.write_text("body { color: blue; }")
    fetched: list[str] = []
    import weasyprint.urls

    original = weasyprint.urls.URLFetcherResponse

    class Spy(original):
        def __init__(self, url, *args, **kwargs):
            fetched.append(url)
            super().__init__(url, *args, **kwargs)

    weasyprint.urls.URLFetcherResponse = Spy
    try:
        html = (
            '<link rel="stylesheet" href="ok.css"><link rel="stylesheet" href="../secret.css">'
            '<link rel="stylesheet" href="http://example.com/x.css"><p>Hi</p>'
        )
        pdf = html_to_pdf(html, tmp_path)
    finally:
        weasyprint.urls.URLFetcherResponse = original
    assert pdf.startswith(b"%PDF")
    assert [u.rsplit("/", 1)[-1] for u in fetched] == ["ok.css"]


def test_pdf_of_a_meeting_without_a_funnel_is_not_found(make, now, login):
    host = make.user(role="leader", department="Marketing")
    meeting = make_meeting(make, now, host=host)
    client = login(host)
    assert client.get(_url(meeting, "/sensitivity.pdf")).status_code == 404
    assert "No funnel yet." in client.get(_url(meeting, "/sensitivity")).get_data(as_text=True)


# --- deals -------------------------------------------------------------------------------------------


def test_deals_list_filters_and_paginates(world, login):
    client = login(world["hr"])
    html = client.get(_url(world["meeting"], "/deals?outcome=lost")).get_data(as_text=True)
    assert "Globex" in html and "Hooli" in html and "Acme" not in html
    html = client.get(_url(world["meeting"], "/deals?segment=SMB&per_page=5")).get_data(as_text=True)
    assert "Initech" in html and "Globex" not in html
    assert "Give feedback" not in html and "Add a deal" not in html  # HR reads only


def test_adding_a_deal_and_its_errors(world, login):
    client = login(world["host"])
    bad = client.post(_url(world["meeting"], "/deals"), data={"name": "Acme", "outcome": "won", "segment": "SMB"})
    assert bad.status_code == 422 and "“Acme” is already in the list." in bad.get_data(as_text=True)
    assert (
        client.post(_url(world["meeting"], "/deals"), data={"name": "Umbrella", "outcome": "no_decision"}).status_code
        == 302
    )
    assert db.session.scalar(select(PlaybackDeal.outcome).where(PlaybackDeal.name == "Umbrella")) == "no_decision"


def test_deal_upload_errors_by_line(world, login):
    client = login(world["host"])
    content = b"deal,segment,outcome,lead_source\nWayne,SMB,won,Event\nStark,SMB,tie,Event\nWayne,SMB,lost,Event\n"
    response = client.post(
        _url(world["meeting"], "/deals/upload"),
        data={"file": (io.BytesIO(content), "deals.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Line 3: the outcome “tie” is not won, lost or no decision." in html
    assert "Line 4: the deal “Wayne” appears twice (also line 2)." in html
    assert db.session.scalar(select(func.count(PlaybackDeal.id))) == 4
    good = b"deal,outcome\nWayne,won\nStark,lost\n"
    response = client.post(
        _url(world["meeting"], "/deals/upload"),
        data={"file": (io.BytesIO(good), "deals.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert db.session.scalar(select(func.count(PlaybackDeal.id))) == 6


def test_feedback_form_and_summary(world, login):
    meeting = world["meeting"]
    globex = db.session.scalar(select(PlaybackDeal).where(PlaybackDeal.name == "Globex"))
    client = login(world["marketer"])
    form = client.get(_url(meeting, f"/deals/{globex.id}/feedback")).get_data(as_text=True)
    assert "Lost to competitor" in form and "Saves time" not in form  # loss reasons for a lost deal
    price = code("Price", "loss_reason").id
    missing = client.post(_url(meeting, f"/deals/{globex.id}/feedback"), data={"codes": [price], "note": "Too dear"})
    assert missing.status_code == 422 and "Rate the lead quality from 1 to 5." in missing.get_data(as_text=True)
    wrong = client.post(
        _url(meeting, f"/deals/{globex.id}/feedback"),
        data={"lead_quality": "2", "codes": [code("Saves time", "why_buy").id]},
    )
    assert wrong.status_code == 422 and "Choose loss reasons" in wrong.get_data(as_text=True)
    ok = client.post(
        _url(meeting, f"/deals/{globex.id}/feedback"), data={"lead_quality": "2", "codes": [price], "note": "Too dear"}
    )
    assert ok.status_code == 302
    again = client.get(_url(meeting, f"/deals/{globex.id}/feedback")).get_data(as_text=True)
    assert re.search(rf'value="{price}"[^>]*checked|checked[^>]*value="{price}"', again)
    assert "Too dear" in again and "Save changes" in again
    summary = login(world["leader"]).get(_url(meeting, "/deals/summary")).get_data(as_text=True)
    assert "4 deals, 1 piece of feedback." in summary
    assert re.search(
        r"Price</th>\s*<td class=\"num\">1</td><td class=\"num\">1</td><td class=\"num\">100.0 %</td>", summary
    )
    assert "<q>Too dear</q>" in summary
    assert db.session.scalar(select(func.count(DealFeedback.id))) == 1


def test_deleting_a_deal(world, login):
    deal = db.session.scalar(select(PlaybackDeal).where(PlaybackDeal.name == "Hooli"))
    assert login(world["host"]).post(_url(world["meeting"], f"/deals/{deal.id}/delete")).status_code == 302
    assert db.session.scalar(select(func.count(PlaybackDeal.id))) == 3


def test_a_cancelled_meeting_is_read_only(world, login, now):
    meeting = world["meeting"]
    meeting.status = "cancelled"
    meeting.cancelled_at = now - timedelta(days=1)
    db.session.commit()
    client = login(world["host"])
    html = client.get(_url(meeting)).get_data(as_text=True)
    assert "Cancelled" in html and "Edit the funnel" not in html
    for path in ("/teams", "/stages", "/deals", "/ideas"):
        response = client.post(_url(meeting, path), data={"name": "New deal", "outcome": "won"})
        assert response.status_code == 302, path
        assert "was cancelled; its funnel work can be read but not changed" in client.get(
            response.headers["Location"]
        ).get_data(as_text=True)
    assert db.session.scalar(select(func.count(FunnelTeam.id))) == 0
    assert db.session.scalar(select(func.count(PlaybackDeal.id))) == 4
    assert login(world["stranger"]).post(_url(meeting, "/teams")).status_code == 404
