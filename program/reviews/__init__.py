"""Joint review meetings: Funnel Reality Checks, win/loss playbacks, lead-definition sessions; invitations,
RSVP, attendance, action items, the lead definition, and the funnel work (``reviews.funnel``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The reviews front door: the review-meeting kind (its mail hooks included), the action-item reminders,
    and the meeting and funnel pages. Registering again (tests build several apps) replaces, never doubles."""
    from program import jobs
    from program.activities.kinds import register_kind
    from program.activities.models import ActivityKind
    from program.reviews import action_routes, lead_definition_routes, mail, meetings, routes
    from program.reviews.funnel import playback_routes, team_routes
    from program.reviews.funnel import routes as funnel_routes

    register_kind(ActivityKind.REVIEW_MEETING.value, meetings.MEETING_KIND)
    jobs.register_job("action item reminders", mail.remind_action_items)
    # Two blueprints, "reviews" and "funnel", each written in several modules; all of them are imported above,
    # so every page is on its blueprint before the blueprint is registered.
    pages = (routes, action_routes, lead_definition_routes, funnel_routes, team_routes, playback_routes)
    for blueprint in dict.fromkeys(module.bp for module in pages):
        app.register_blueprint(blueprint)
