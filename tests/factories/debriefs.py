"""Debriefs: a debrief task from an attended ride-along and a written debrief (``make.attended_task``,
``make.submit_debrief``), and reading the template editor's form back from its page."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from werkzeug.datastructures import MultiDict

from program.extensions import db
from tests.conftest import FIXED_NOW


class DebriefBuilders:
    """Needs ``self.marketer`` (AccountBuilders) and ``self.ride_along`` (RideBuilders)."""

    def attended_task(self, rider=None, ride=None, *, now=None, **ride_kw):
        """A rider who attended a past ride-along, and the debrief task that attendance created."""
        from datetime import timedelta

        from program.activities import services as core
        from program.debriefs.models import DebriefTask

        now = now or FIXED_NOW
        rider = rider or self.marketer()
        ride = ride or self.ride_along(starts_in=timedelta(hours=-3), **ride_kw)
        p = core.find_participation(ride.id, rider.id) or core.book_seat(
            ride.id, rider, ride.starts_at - timedelta(days=2)
        )
        core.mark_attendance(p, ride.host, True, max(now, ride.starts_at + timedelta(minutes=5)))
        return db.session.scalar(db.select(DebriefTask).where(DebriefTask.participation_id == p.id))

    def submit_debrief(self, task, answers: dict | None = None, *, at=None, submit: bool = True):
        """Write (and by default submit) the task's debrief. ``answers`` maps question keys to values:
        text/rating as strings, reason codes as a list of (code label or "other", customer's words)."""
        from program.debriefs import services as ds
        from program.debriefs.models import ReasonCode

        at = at or FIXED_NOW
        debrief = ds.start_debrief(task, task.user, at)
        if debrief.answers:
            values = ds.values_from_debrief(debrief)
        else:
            values = {}
            answers = {
                "why_buy": [("Saves time", "")],
                "lead_quality": "4",
                "learned": "They buy on speed.",
                **(answers or {}),
            }
        answers = answers or {}
        for q in debrief.template.questions:
            if q.key not in answers:
                continue
            value = answers[q.key]
            if q.qtype == "reason_codes":
                ca = ds.CodeAnswer()
                for label, words in value:
                    if label == "other":
                        key = "other"
                        ca.other_text = words or "something else"
                    else:
                        key = str(
                            db.session.scalar(
                                db.select(ReasonCode.id).where(
                                    ReasonCode.label == label, ReasonCode.category == q.code_category
                                )
                            )
                        )
                    ca.codes.append(key)
                    ca.words[key] = words
                values[q.id] = ca
            else:
                values[q.id] = value
        return ds.save_debrief(debrief, task.user, values, at, submit=submit)


# --- the template editor's page ---------------------------------------------------------------


class _Forms(HTMLParser):
    """Every <form> on a page, with what a browser would submit from it as it stands."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._textarea: list | None = None
        self._select: list | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action"), "fields": []}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form["fields"].append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button", "reset"):
                self._form["fields"].append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._textarea = [a["name"], ""]
        elif tag == "select":
            self._select = [a["name"], None, None]
        elif tag == "option" and self._select is not None:
            if self._select[1] is None:
                self._select[1] = a.get("value", "")
            if "selected" in a:
                self._select[2] = a.get("value", "")

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None:
            name, value = self._textarea
            if value.startswith("\r\n"):
                value = value[2:]
            elif value.startswith("\n"):
                value = value[1:]
            self._form["fields"].append((name, value))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            name, first, chosen = self._select
            self._form["fields"].append((name, chosen if chosen is not None else (first or "")))
            self._select = None
        elif tag == "form":
            self._form = None


def page_form(html: str, containing: str) -> MultiDict:
    """The form on the page that has a field named ``containing``, as the browser would post it."""
    parser = _Forms()
    parser.feed(html)
    for form in parser.forms:
        if any(name == containing for name, _ in form["fields"]):
            return MultiDict(form["fields"])
    raise AssertionError(f"no form with a field {containing!r} on the page")


def row_of(data: MultiDict, prompt: str) -> int:
    """The row index whose prompt is ``prompt``."""
    for name, value in data.items(multi=True):
        m = re.fullmatch(r"questions-(\d+)-prompt", name)
        if m and value == prompt:
            return int(m.group(1))
    raise AssertionError(f"no row with prompt {prompt!r}")


def shadow_day_task(author, host, *, start, due_at, created_at, title: str = "Shadow day"):
    """An attended shadow day (built by hand: no pairing) for ``author``, hosted by ``host``, and the debrief
    task it owes (flushed)."""
    from datetime import timedelta

    from program.activities.models import Activity, Participation
    from program.debriefs.models import DebriefTask

    activity = Activity(
        kind="shadow_day",
        title=title,
        host=host,
        created_by=host,
        starts_at=start,
        ends_at=start + timedelta(hours=8),
        timezone="Europe/London",
        booking_cutoff_at=start - timedelta(days=1),
        seats=None,
    )
    p = Participation(activity=activity, user=author, state="attended", state_changed_at=start)
    db.session.add_all([activity, p])
    db.session.flush()
    task = DebriefTask(
        participation=p, user_id=author.id, activity_id=activity.id, due_at=due_at, created_at=created_at
    )
    db.session.add(task)
    db.session.flush()
    return task
