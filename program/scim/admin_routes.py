"""Admin pages for provisioning: SCIM tokens (create — shown once —, list, revoke) and the provisioning log.
Admins only; anyone else gets 404."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from program.accounts import provisioning
from program.accounts.models import Role
from program.extensions import db
from program.scim import tokens
from program.scim.audit import changes, log_actors
from program.scim.forms import ScimTokenForm
from program.scim.models import ScimToken
from program.scim.routes import base_url
from program.timeutil import utcnow
from program.web import ConfirmForm, page_args, roles_required, run_post, save_form

bp = Blueprint("scim_admin", __name__, url_prefix="/admin/scim")

ADMIN = (Role.ADMIN.value,)


@bp.route("/tokens", methods=["GET", "POST"], endpoint="tokens")
@roles_required(*ADMIN)
def tokens_page():
    form = ScimTokenForm()
    created, raw = None, None
    if form.validate_on_submit():
        saved, result = save_form(form, lambda: tokens.create_token(current_user, form.name.data, utcnow()))
        if saved:
            created, raw = result
            form = ScimTokenForm(formdata=None)
    page, per_page = page_args()
    html = render_template(
        "scim/tokens.html",
        form=form,
        pagination=tokens.tokens_page(page, per_page),
        created=created,
        raw_token=raw,
        confirm_form=ConfirmForm(),
        scim_url=base_url(),
    )
    response = make_response(html, 422 if form.errors else 200)
    if raw:
        response.headers["Cache-Control"] = "no-store"  # the page holds a secret: never keep a copy
    return response


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@roles_required(*ADMIN)
def revoke_token(token_id: int):
    token = db.get_or_404(ScimToken, token_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    run_post(
        lambda: tokens.revoke_token(current_user, token, utcnow()),
        f"The token for {token.name} is revoked: its client can no longer provision.",
    )
    return redirect(url_for("scim_admin.tokens"))


@bp.route("/log")
@roles_required(*ADMIN)
def log():
    page, per_page = page_args(50)
    actor = (request.args.get("actor") or "").strip()
    resource_id = (request.args.get("resource_id") or "").strip()
    pagination = provisioning.log_page(page, per_page, actor=actor, resource_id=resource_id)
    rows = [(event, changes(event.before, event.after)) for event in pagination.items]
    return render_template(
        "scim/log.html",
        pagination=pagination,
        rows=rows,
        actors=log_actors(),
        filters={"actor": actor, "resource_id": resource_id},
    )
