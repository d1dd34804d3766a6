"""The personal calendar feed: the page with its secret URL, rotation, and the feed itself."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from program.activities.forms import ActionForm
from program.calendar import services
from program.extensions import db
from program.timeutil import utcnow
from program.web import absolute_url

bp = Blueprint("calendar", __name__, url_prefix="/calendar")


@bp.route("/")
@login_required
def settings():
    feed = services.feed_for(current_user)
    db.session.commit()
    return render_template(
        "calendar/settings.html",
        feed_url=absolute_url("calendar.feed", token=feed.token),
        feed=feed,
        form=ActionForm(),
    )


@bp.route("/rotate", methods=["POST"])
@login_required
def rotate():
    if not ActionForm().validate_on_submit():
        abort(400)
    services.rotate_feed(current_user, utcnow())
    db.session.commit()
    flash("You have a new feed address. The old one no longer works; update your calendar app.", "success")
    return redirect(url_for("calendar.settings"))


@bp.route("/feed/<token>.ics")
def feed(token: str):
    user = services.user_for_token(token)
    if user is None:
        abort(404)
    body = services.build_feed(user, utcnow(), current_app.config["ORG_NAME"])
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": "inline; filename=tandem.ics", "Cache-Control": "private, max-age=300"},
    )
