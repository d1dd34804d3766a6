"""The personal calendar feed: the page about it, making (or replacing) its secret URL, and the feed itself.

The address is shown once, in the answer to the POST that made it, and never again: only its hash is
stored. That answer is a page, not a redirect, so the secret never travels in a (signed, not encrypted)
session cookie as a flashed message would; it is marked no-store so no cache keeps it."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, make_response, render_template
from flask_login import current_user, login_required

from program.calendar import feeds
from program.extensions import db
from program.timeutil import utcnow
from program.web import ConfirmForm, absolute_url

bp = Blueprint("calendar", __name__, url_prefix="/calendar")


@bp.route("/")
@login_required
def settings():
    return render_template(
        "calendar/settings.html", feed=feeds.feed_for(current_user), feed_url=None, replaced=False, form=ConfirmForm()
    )


@bp.route("/rotate", methods=["POST"])
@login_required
def rotate():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    replaced = feeds.feed_for(current_user) is not None
    token = feeds.rotate_feed(current_user, utcnow())
    db.session.commit()
    response = make_response(
        render_template(
            "calendar/settings.html",
            feed=feeds.feed_for(current_user),
            feed_url=absolute_url("calendar.feed", token=token),
            replaced=replaced,
            form=ConfirmForm(),
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/feed/<token>.ics")
def feed(token: str):
    user = feeds.user_for_token(token)
    if user is None:
        abort(404)
    body = feeds.build_feed(user, utcnow(), current_app.config["ORG_NAME"])
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": "inline; filename=tandem.ics", "Cache-Control": "private, max-age=300"},
    )
