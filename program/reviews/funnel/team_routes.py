"""Mini-teams and ideas pages of a funnel reality check (the "funnel" blueprint of ``routes``): the
facilitator draws and swaps teams; team members add ideas for their team's stages, the facilitator for any."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from program.errors import DomainError, NotAllowed
from program.extensions import db
from program.formutil import options
from program.reviews.funnel import services
from program.reviews.funnel import teams as mini_teams
from program.reviews.funnel.forms import IdeaForm, SwapForm, TeamsForm
from program.reviews.funnel.routes import bp, closed_is_read_only, load, load_for_edit, render
from program.timeutil import utcnow
from program.web import ConfirmForm, apply_errors, save_form

# --- mini-teams ------------------------------------------------------------------------------


def _teams_page(activity, viewer, teams_form=None, swap_form=None, status=200):
    formed = mini_teams.teams_for(activity.id)
    unassigned = mini_teams.unassigned_attendees(activity.id, formed)
    view = services.funnel_view(services.snapshot_for(activity.id))
    if viewer.can_edit:
        teams_form = teams_form or TeamsForm()
        swap_form = swap_form or SwapForm()
        people = [(m.user_id, f"{m.name} ({t.name})") for t in formed for m in t.members]
        people += [(m.user_id, f"{m.name} (no team)") for m in unassigned]
        swap_form.user_a.choices = options(people)
        swap_form.user_b.choices = options(people)
        if not swap_form.is_submitted() and len(people) > 1:
            swap_form.user_b.data = people[1][0]  # two different people to start from
    return render(
        "reviews/funnel_teams.html",
        activity,
        viewer,
        "teams",
        status,
        teams=formed,
        unassigned=unassigned,
        funnel=view,
        teams_form=teams_form,
        swap_form=swap_form,
        has_ideas=any(i.team_id for i in services.ideas_for(activity.id)),
    )


@bp.route("/<int:activity_id>/teams", methods=["GET", "POST"])
@login_required
@closed_is_read_only
def teams(activity_id: int):
    if request.method == "GET":
        activity, viewer = load(activity_id)
        return _teams_page(activity, viewer)
    activity, viewer = load_for_edit(activity_id)
    form = TeamsForm()
    if form.validate_on_submit():
        saved, formed = save_form(
            form, lambda: mini_teams.form_teams(activity, current_user, utcnow(), seed=form.seed.data)
        )
        if saved:
            flash(f"{len(formed)} mini-teams formed.", "success")
            return redirect(url_for("funnel.teams", activity_id=activity.id))
    return _teams_page(activity, viewer, teams_form=form, status=422)


@bp.route("/<int:activity_id>/teams/swap", methods=["POST"])
@login_required
@closed_is_read_only
def swap(activity_id: int):
    activity, viewer = load_for_edit(activity_id)
    form = SwapForm()
    if form.validate_on_submit():
        saved, _ = save_form(
            form, lambda: mini_teams.swap_people(activity, current_user, form.user_a.data, form.user_b.data)
        )
        if saved:
            flash("Swapped.", "success")
            return redirect(url_for("funnel.teams", activity_id=activity.id))
    return _teams_page(activity, viewer, swap_form=form, status=422)


# --- ideas -----------------------------------------------------------------------------------


def _idea_form(activity, viewer, view, formed, formdata=None) -> IdeaForm | None:
    """The idea form for the facilitator (any team, any stage) or a team member (own team's stages)."""
    if view is None or activity.is_cancelled:
        return None
    form = IdeaForm(formdata=formdata) if formdata is not None else IdeaForm()
    if viewer.can_edit:
        form.team_id.choices = options([("", "— no team (facilitator) —")] + [(t.id, t.name) for t in formed])
        form.stage_id.choices = options([(s.id, s.name) for s in view.transition_stages])
    else:
        own = next((t for t in formed if t.id == viewer.team_id), None)
        if own is None:
            return None
        form.team_id.choices = options([(own.id, own.name)])
        form.stage_id.choices = options(list(own.stages))
    return form


def _ideas_page(activity, viewer, form=None, status=200):
    view = services.funnel_view(services.snapshot_for(activity.id))
    formed = mini_teams.teams_for(activity.id)
    ideas = services.ideas_for(activity.id)
    form = form or _idea_form(activity, viewer, view, formed)
    own = {t.id for t in formed if t.id == viewer.team_id}
    deletable = {i.id for i in ideas if viewer.can_edit or i.author_id == viewer.user.id or i.team_id in own}
    by_stage = {s.id: [i for i in ideas if i.stage_id == s.id] for s in (view.transition_stages if view else ())}
    return render(
        "reviews/funnel_ideas.html",
        activity,
        viewer,
        "ideas",
        status,
        funnel=view,
        teams=formed,
        by_stage=by_stage,
        form=form,
        deletable=deletable,
        own_team=next((t for t in formed if t.id == viewer.team_id), None),
    )


@bp.route("/<int:activity_id>/ideas", methods=["GET", "POST"])
@login_required
@closed_is_read_only
def ideas(activity_id: int):
    activity, viewer = load(activity_id)
    if request.method == "GET":
        return _ideas_page(activity, viewer)
    view = services.funnel_view(services.snapshot_for(activity.id))
    form = _idea_form(activity, viewer, view, mini_teams.teams_for(activity.id), request.form)
    if form is None:
        abort(403)
    if form.validate_on_submit():
        try:
            services.add_idea(
                activity,
                current_user,
                team_id=form.team_id.data,
                stage_id=form.stage_id.data,
                title=form.title.data,
                lift=form.lift.data,
                confidence=form.confidence.data,
                effort=form.effort.data,
                now=utcnow(),
            )
            db.session.commit()
        except NotAllowed:  # a member choosing another team's stage: not theirs to add to
            db.session.rollback()
            abort(403)
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            flash("Idea added.", "success")
            return redirect(url_for("funnel.ideas", activity_id=activity.id))
    return _ideas_page(activity, viewer, form=form, status=422)


@bp.route("/<int:activity_id>/ideas/<int:idea_id>/delete", methods=["POST"])
@login_required
@closed_is_read_only
def delete_idea(activity_id: int, idea_id: int):
    activity, _viewer = load(activity_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.delete_idea(activity, current_user, idea_id)
        db.session.commit()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except DomainError:  # an idea of another meeting, or one already deleted
        db.session.rollback()
        abort(404)
    flash("Idea deleted.", "success")
    return redirect(url_for("funnel.ideas", activity_id=activity.id))
