"""HR/admin debrief pages: templates (publish a new version, history) and the reason-code codebook.

Forms are read back from the rendered page and posted as a browser would, so a test fails if the page
stops round-tripping what it shows.
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from program.debriefs import codebook
from program.debriefs.defaults import ensure_defaults
from program.debriefs.models import Debrief, DebriefTemplate, ReasonCode
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db
from tests.factories.debriefs import page_form, row_of

BASE = "/admin/debriefs"


# --- helpers ---------------------------------------------------------------------------------


def blank_row(data: MultiDict) -> int:
    for name, value in data.items(multi=True):
        m = re.fullmatch(r"questions-(\d+)-existing", name)
        if m and value != "1":
            return int(m.group(1))
    raise AssertionError("no blank row")


def fieldset(html: str, row: int) -> str:
    """The HTML of one question row on the edit page (rows are numbered from 1 on the page)."""
    m = re.search(rf'<fieldset[^>]*id="row-{row + 1}".*?</fieldset>', html, re.S)
    assert m, f"row {row} not on the page"
    return m.group(0)


def text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def versions(kind: str = "ride_along") -> int:
    return db.session.scalar(select(func.count(DebriefTemplate.id)).where(DebriefTemplate.kind == kind))


def code(label: str, category: str = "why_buy") -> ReasonCode:
    return db.session.scalar(select(ReasonCode).where(ReasonCode.label == label, ReasonCode.category == category))


@pytest.fixture
def seeded(app, now):
    ensure_defaults(now)
    db.session.commit()


# --- who may see and do what -----------------------------------------------------------------

PAGES = [
    "/templates",
    "/templates/ride_along/edit",
    "/templates/shadow_day/edit",
    "/templates/ride_along/versions",
    "/templates/review_meeting/versions/1",
    "/codes",
    "/codes?category=objection&retired=1",
    "/codes/{code}/edit",
]
POSTS = [
    "/templates/ride_along/edit",
    "/codes",
    "/codes/{code}/edit",
    "/codes/{code}/retire",
    "/codes/{code}/unretire",
]


@pytest.mark.parametrize("role, allowed", [("admin", True), ("hr", True), ("leader", False), ("staff", False)])
def test_role_matrix_for_every_page_and_post(seeded, as_role, role, allowed):
    client, _ = as_role(role)
    target = code("Saves time")
    for path in PAGES:
        resp = client.get(BASE + path.format(code=target.id))
        assert resp.status_code == (200 if allowed else 404), (role, path)
    for path in POSTS:
        resp = client.post(BASE + path.format(code=target.id), data={})
        if allowed:
            assert resp.status_code in (302, 422), (role, path, resp.status_code)
        else:
            assert resp.status_code == 404, (role, path)
    db.session.expire_all()
    if not allowed:  # nothing a refused POST asked for happened
        assert code("Saves time").retired is False
        assert versions() == 1


def test_signed_out_visitors_are_sent_to_sign_in(seeded, client):
    assert client.get(BASE + "/templates").status_code == 302
    resp = client.post(BASE + f"/codes/{code('Saves time').id}/retire")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    db.session.expire_all()
    assert code("Saves time").retired is False


def test_unknown_kind_and_version_are_404(seeded, as_role):
    client, _ = as_role("admin")
    assert client.get(BASE + "/templates/coffee_chat/edit").status_code == 404
    assert client.get(BASE + "/templates/ride_along/versions/99").status_code == 404
    assert client.get(BASE + "/codes/99999/edit").status_code == 404


# --- templates -------------------------------------------------------------------------------


def test_templates_page_shows_the_defaults_on_a_fresh_install(as_role):
    client, _ = as_role("hr")
    assert db.session.scalar(select(func.count(DebriefTemplate.id))) == 0
    resp = client.get(BASE + "/templates")
    assert resp.status_code == 200
    page = text(resp.get_data(as_text=True))
    for label in ("Ride-along", "Shadow day", "Review meeting"):
        assert label in page
    assert page.count("Edit (publish a new version)") == 3 and page.count("Version history") == 3
    assert "programme default" in page
    db.session.expire_all()
    assert db.session.scalar(select(func.count(DebriefTemplate.id))) == 3  # committed, not just shown
    # Question counts come from the defaults: 6 for a ride-along.
    assert re.search(r"Ride-along\s+1\s+.*?\s6\s", page)


def test_publishing_through_the_page_keeps_old_debriefs_on_their_version(make, login, as_role, now):
    old_task = make.attended_task()
    make.submit_debrief(old_task)
    db.session.commit()
    admin_client, admin = as_role("admin")

    html = admin_client.get(BASE + "/templates/ride_along/edit").get_data(as_text=True)
    data = page_form(html, "questions-0-prompt")
    first = row_of(data, "Why is the customer buying or considering?")
    data[f"questions-{first}-prompt"] = "Why are they buying, in one line?"
    data[f"questions-{row_of(data, 'Content or collateral that would have helped')}-remove"] = "y"
    new = blank_row(data)
    data[f"questions-{new}-prompt"] = "Which stage did the call end in?"
    data[f"questions-{new}-qtype"] = "single_choice"
    data[f"questions-{new}-options_text"] = "Discovery\nProposal\nNegotiation"
    data[f"questions-{new}-position"] = "1"
    data["note"] = "Shorter first question; stage question."
    resp = admin_client.post(BASE + "/templates/ride_along/edit", data=data)
    assert resp.status_code == 302, text(resp.get_data(as_text=True))[:2000]

    db.session.expire_all()
    latest = db.session.scalar(
        select(DebriefTemplate).where(DebriefTemplate.kind == "ride_along").order_by(DebriefTemplate.version.desc())
    )
    assert latest.version == 2 and latest.published_by_id == admin.id and latest.note.startswith("Shorter")
    prompts = [q.prompt for q in latest.questions]
    assert prompts[0] == "Which stage did the call end in?"  # moved to position 1
    assert prompts[1] == "Why are they buying, in one line?"
    assert "Content or collateral that would have helped" not in prompts
    stage = latest.questions[0]
    assert stage.options == ["Discovery", "Proposal", "Negotiation"] and stage.key == "which_stage_did_the_call_end_in"
    keys = [q.key for q in latest.questions]
    assert "learned" in keys and "tactic" in keys  # kept across versions

    # HR reads the old debrief: the questions it was answered against, not the new ones.
    hr_client, _ = as_role("hr")
    page = text(hr_client.get(f"/debriefs/task/{old_task.id}").get_data(as_text=True))
    assert "Why is the customer buying or considering?" in page
    assert "Content or collateral that would have helped" in page
    assert "Saves time" in page and "template version 1" in page
    assert "Which stage did the call end in?" not in page

    # A debrief started now gets version 2.
    new_task = make.attended_task()
    db.session.commit()
    form_page = text(login(new_task.user).get(f"/debriefs/task/{new_task.id}").get_data(as_text=True))
    assert "Which stage did the call end in?" in form_page and "Discovery" in form_page
    assert "Content or collateral that would have helped" not in form_page

    # The history lists both versions; version 1 still reads as it was.
    history = text(admin_client.get(BASE + "/templates/ride_along/versions").get_data(as_text=True))
    assert "Version 2" in history and "Version 1" in history and "current" in history
    v1 = text(admin_client.get(BASE + "/templates/ride_along/versions/1").get_data(as_text=True))
    assert "Why is the customer buying or considering?" in v1 and "superseded by version 2" in v1


def test_bad_rows_are_refused_beside_the_row_and_nothing_is_published(seeded, as_role):
    client, _ = as_role("hr")
    html = client.get(BASE + "/templates/ride_along/edit").get_data(as_text=True)
    data = page_form(html, "questions-0-prompt")
    emptied = row_of(data, "What did you learn?")
    data[f"questions-{emptied}-prompt"] = ""
    data[f"questions-{emptied}-help_text"] = "Typed help that must survive."
    new = blank_row(data)
    data[f"questions-{new}-prompt"] = "Preferred follow-up channel"
    data[f"questions-{new}-qtype"] = "single_choice"
    data[f"questions-{new}-options_text"] = "Only email"
    data["note"] = "My typed note"

    resp = client.post(BASE + "/templates/ride_along/edit", data=data)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Please correct the marked fields." in html
    empty_row = fieldset(html, emptied)
    assert "Write the question." in empty_row and "Typed help that must survive." in empty_row
    choice_row = fieldset(html, new)
    assert "Give at least two options, one per line." in choice_row
    assert "Preferred follow-up channel" in choice_row and "Only email" in choice_row
    assert 'value="My typed note"' in html
    assert "Write the question." not in fieldset(html, new)  # each message sits beside its own row
    db.session.expire_all()
    assert versions() == 1


def test_empty_template_duplicate_keys_and_feed_keys_are_refused(seeded, as_role):
    client, _ = as_role("admin")
    html = client.get(BASE + "/templates/review_meeting/edit").get_data(as_text=True)
    original = page_form(html, "questions-0-prompt")

    data = original.copy()
    for name in [n for n in data if n.endswith("-existing") and data[n] == "1"]:
        data[name.replace("-existing", "-remove")] = "y"
    resp = client.post(BASE + "/templates/review_meeting/edit", data=data)
    assert resp.status_code == 422 and "at least one question" in resp.get_data(as_text=True)

    data = original.copy()
    data[f"questions-{row_of(data, 'Action items you own or propose')}-key"] = "learned"
    resp = client.post(BASE + "/templates/review_meeting/edit", data=data)
    assert resp.status_code == 422
    assert "already used by another question" in fieldset(
        resp.get_data(as_text=True), row_of(data, "Action items you own or propose")
    )

    data = original.copy()
    data[f"questions-{row_of(data, 'Takeaways')}-qtype"] = "rating"
    resp = client.post(BASE + "/templates/review_meeting/edit", data=data)
    assert resp.status_code == 422
    assert "learnings feed" in text(fieldset(resp.get_data(as_text=True), row_of(data, "Takeaways")))

    data = original.copy()
    new = blank_row(data)
    data[f"questions-{new}-prompt"] = "Which objections came up?"
    data[f"questions-{new}-qtype"] = "reason_codes"
    resp = client.post(BASE + "/templates/review_meeting/edit", data=data)
    assert resp.status_code == 422
    assert "Choose which codes this question offers." in fieldset(resp.get_data(as_text=True), new)
    db.session.expire_all()
    assert versions("review_meeting") == 1


def test_unchanged_and_stale_edits_are_not_published(seeded, as_role):
    client, _ = as_role("admin")
    html = client.get(BASE + "/templates/shadow_day/edit").get_data(as_text=True)
    data = page_form(html, "questions-0-prompt")
    resp = client.post(BASE + "/templates/shadow_day/edit", data=data)
    assert resp.status_code == 422 and "Nothing has changed since version 1" in resp.get_data(as_text=True)

    # Someone else publishes version 2 while this editor still has version 1 open.
    other, _ = as_role("hr")
    theirs = page_form(other.get(BASE + "/templates/shadow_day/edit").get_data(as_text=True), "questions-0-prompt")
    theirs[f"questions-{row_of(theirs, 'What surprised me')}-required"] = ""
    theirs.poplist(f"questions-{row_of(theirs, 'What surprised me')}-required")
    assert other.post(BASE + "/templates/shadow_day/edit", data=theirs).status_code == 302

    mine = data.copy()
    mine[f"questions-{row_of(mine, 'What surprised me')}-prompt"] = "What surprised me most"
    resp = client.post(BASE + "/templates/shadow_day/edit", data=mine)
    assert resp.status_code == 422
    assert "Version 2 was published" in text(resp.get_data(as_text=True))
    assert "What surprised me most" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert versions("shadow_day") == 2
    # Publishing again from the re-shown page replaces it on purpose.
    again = page_form(resp.get_data(as_text=True), "questions-0-prompt")
    assert client.post(BASE + "/templates/shadow_day/edit", data=again).status_code == 302
    db.session.expire_all()
    assert versions("shadow_day") == 3


def test_a_new_version_can_start_from_an_old_one(seeded, as_role):
    client, _ = as_role("admin")
    data = page_form(client.get(BASE + "/templates/review_meeting/edit").get_data(as_text=True), "questions-0-prompt")
    data[f"questions-{row_of(data, 'Takeaways')}-prompt"] = "Main takeaways"
    assert client.post(BASE + "/templates/review_meeting/edit", data=data).status_code == 302
    html = client.get(BASE + "/templates/review_meeting/edit?from=1").get_data(as_text=True)
    assert "Starting from version 1" in html
    restored = page_form(html, "questions-0-prompt")
    assert restored["based_on"] == "2" and row_of(restored, "Takeaways") == 0
    assert client.post(BASE + "/templates/review_meeting/edit", data=restored).status_code == 302
    db.session.expire_all()
    latest = db.session.scalar(
        select(DebriefTemplate).where(DebriefTemplate.kind == "review_meeting", DebriefTemplate.version == 3)
    )
    assert latest.questions[0].prompt == "Takeaways"


def test_version_history_is_paginated(seeded, as_role, now):
    from program.debriefs.template_versions import QuestionSpec, publish_template

    client, admin = as_role("admin")
    for n in range(2, 8):
        publish_template(admin, "review_meeting", [QuestionSpec("learned", "long_text", f"Takeaways {n}")], now)
    db.session.commit()
    first = text(client.get(BASE + "/templates/review_meeting/versions?per_page=5").get_data(as_text=True))
    assert "Version 7" in first and "Version 1 " not in first and "Page 1 of 2" in first
    second = text(client.get(BASE + "/templates/review_meeting/versions?per_page=5&page=2").get_data(as_text=True))
    assert "Version 1" in second and "Version 7" not in second


# --- codebook --------------------------------------------------------------------------------


def test_codebook_page_groups_codes_and_counts_answers(make, as_role):
    task = make.attended_task()
    make.submit_debrief(
        task, {"why_buy": [("Saves time", ""), ("Cost saving", "")], "objections": [("Price", "Too dear")]}
    )
    other = make.attended_task()
    make.submit_debrief(other, {"why_buy": [("Saves time", "")]})
    db.session.commit()
    client, _ = as_role("hr")
    html = client.get(BASE + "/codes").get_data(as_text=True)
    for heading in ("Why the customer buys", "Objection heard", "Loss reason", "Lead-quality issue"):
        assert f">{heading}</h2>" in html
    row = re.search(rf'id="code-{code("Saves time").id}".*?</tr>', html, re.S).group(0)
    assert "The product removes manual work" in row and re.search(r'class="num">2<', row)
    price = re.search(rf'id="code-{code("Price", "objection").id}".*?</tr>', html, re.S).group(0)
    assert re.search(r'class="num">1<', price)
    filtered = client.get(BASE + "/codes?category=objection").get_data(as_text=True)
    assert ">Objection heard</h2>" in filtered and ">Why the customer buys</h2>" not in filtered


def test_codebook_page_query_count_does_not_grow_with_codes(make, as_role, count_queries, now):
    task = make.attended_task()
    make.submit_debrief(task)
    client, admin = as_role("admin")
    client.get(BASE + "/codes")  # warm up (defaults, caches)
    db.session.expire_all()  # the tests share the requests' session: start both counts from the same state
    with count_queries() as before:
        assert client.get(BASE + "/codes").status_code == 200
    for n in range(12):
        codebook.add_code(admin, "why_buy", f"Extra reason {n}", "", now)
    later = make.attended_task()
    make.submit_debrief(later, {"why_buy": [(f"Extra reason {n}", "") for n in range(12)]})
    codebook.retire_code(admin, code("Extra reason 0"), now)
    db.session.commit()
    db.session.expire_all()
    with count_queries() as after:
        html = client.get(BASE + "/codes?retired=1").get_data(as_text=True)
    assert "Extra reason 11" in html
    assert after.count == before.count, after.statements


def test_add_edit_retire_and_unretire_a_code_through_the_pages(seeded, as_role):
    client, _ = as_role("admin")
    data = page_form(client.get(BASE + "/codes?category=loss_reason").get_data(as_text=True), "label")
    assert data["category"] == "loss_reason"  # the filter preselects the category
    data["label"], data["description"] = "  Champion left  ", "Our sponsor moved on."
    resp = client.post(BASE + "/codes", data=data)
    assert resp.status_code == 302
    db.session.expire_all()
    added = code("Champion left", "loss_reason")
    assert added is not None and added.description == "Our sponsor moved on." and not added.retired
    assert "Champion left" in client.get(resp.headers["Location"]).get_data(as_text=True)

    edit = page_form(client.get(BASE + f"/codes/{added.id}/edit").get_data(as_text=True), "label")
    assert edit["label"] == "Champion left"
    edit["label"], edit["description"] = "Champion left the company", "Our sponsor moved on; nobody took over."
    assert client.post(BASE + f"/codes/{added.id}/edit", data=edit).status_code == 302
    db.session.expire_all()
    assert added.label == "Champion left the company" and added.category == "loss_reason"

    resp = client.post(BASE + f"/codes/{added.id}/retire", follow_redirects=True)
    assert "is retired" in text(resp.get_data(as_text=True))
    db.session.expire_all()
    assert added.retired is True
    listed = client.get(BASE + "/codes?category=loss_reason").get_data(as_text=True)
    assert "Champion left the company" not in listed  # retired codes are hidden unless asked for
    assert "Champion left the company" in client.get(BASE + "/codes?category=loss_reason&retired=1").get_data(
        as_text=True
    )

    again = client.post(BASE + f"/codes/{added.id}/retire", follow_redirects=True)
    assert "already retired" in text(again.get_data(as_text=True))

    resp = client.post(BASE + f"/codes/{added.id}/unretire", follow_redirects=True)
    assert "offered in new debriefs again" in text(resp.get_data(as_text=True))
    db.session.expire_all()
    assert added.retired is False


def test_duplicate_label_is_refused_beside_the_field_with_the_typing_kept(seeded, as_role):
    client, _ = as_role("hr")
    before = db.session.scalar(select(func.count(ReasonCode.id)))
    resp = client.post(
        BASE + "/codes", data={"category": "objection", "label": "price", "description": "Typed description"}
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    beside_label = re.search(r'id="label-error">([^<]*)<', html)  # the message tied to the label field
    assert beside_label and "already a code in Objection heard" in unescape(beside_label.group(1))
    assert "Typed description" in html and 'value="price"' in html
    # Another category may use the same label.
    assert (
        client.post(BASE + "/codes", data={"category": "why_buy", "label": "Price", "description": ""}).status_code
        == 302
    )
    # Renaming onto another code's label is refused too.
    timing = code("Timing", "objection")
    resp = client.post(BASE + f"/codes/{timing.id}/edit", data={"label": "PRICE", "description": ""})
    assert resp.status_code == 422 and "already a code" in unescape(resp.get_data(as_text=True))
    db.session.expire_all()
    assert db.session.scalar(select(func.count(ReasonCode.id))) == before + 1
    assert code("Timing", "objection") is not None


def test_codebook_services_check_permission_and_input(make, now, seeded):
    admin, staff = make.user(role="admin"), make.user(role="staff")
    with pytest.raises(NotAllowed):
        codebook.add_code(staff, "why_buy", "Fast support", "", now)
    with pytest.raises(NotAllowed):
        codebook.retire_code(make.user(role="leader"), code("Saves time"), now)
    with pytest.raises(ValidationFailed, match="category"):
        codebook.add_code(admin, "favourite_colour", "Blue", "", now)
    with pytest.raises(ValidationFailed, match="label") as info:
        codebook.add_code(admin, "why_buy", "   ", "", now)
    assert info.value.field == "label"
    codebook.retire_code(admin, code("Saves time"), now)
    with pytest.raises(ValidationFailed, match="un-retire it"):
        codebook.add_code(admin, "why_buy", "saves  TIME", "", now)
    added = codebook.add_code(admin, "why_buy", "Fast support", "Answers within the hour.", now)
    assert added.position == 6 and added.created_at == now
    assert not any(name.startswith("delete") or name.startswith("remove") for name in dir(codebook))


def test_there_is_no_way_to_delete_a_code(seeded, as_role):
    client, _ = as_role("admin")
    target = code("Saves time")
    for path in (f"/codes/{target.id}/delete", f"/codes/{target.id}", f"/codes/{target.id}/remove"):
        assert client.post(BASE + path).status_code in (404, 405), path
    assert client.delete(BASE + f"/codes/{target.id}/edit").status_code == 405
    db.session.expire_all()
    assert code("Saves time") is not None


def test_a_retired_code_is_not_offered_but_old_debriefs_still_show_it(make, login, as_role):
    old_task = make.attended_task()
    make.submit_debrief(old_task, {"why_buy": [("Saves time", ""), ("Reduces risk", "")]})
    draft_task = make.attended_task()
    make.submit_debrief(draft_task, {"why_buy": [("Saves time", "")]}, submit=False)
    db.session.commit()
    saves_time = code("Saves time")
    admin_client, _ = as_role("admin")
    assert admin_client.post(BASE + f"/codes/{saves_time.id}/retire").status_code == 302

    new_task = make.attended_task()
    db.session.commit()
    form = login(new_task.user).get(f"/debriefs/task/{new_task.id}").get_data(as_text=True)
    reduces_risk = code("Reduces risk")
    assert f'_codes" value="{reduces_risk.id}"' in form  # still offered
    assert f'_codes" value="{saves_time.id}"' not in form and "Saves time" not in form
    assert "Unknown / other" in form

    # A draft that already chose it keeps it chosen.
    draft_form = login(draft_task.user).get(f"/debriefs/task/{draft_task.id}").get_data(as_text=True)
    assert re.search(rf'_codes" value="{saves_time.id}"\s+checked', draft_form)

    hr_client, _ = as_role("hr")
    shown = text(hr_client.get(f"/debriefs/task/{old_task.id}").get_data(as_text=True))
    assert "Saves time" in shown and "Reduces risk" in shown
    db.session.expire_all()
    assert db.session.get(Debrief, old_task.debrief.id).template.version == 1
