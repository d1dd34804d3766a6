"""HR/admin: debrief templates (edit = publish a new version, version history) and the reason-code codebook.

Every page and every POST is for HR and admins only; anyone else gets 404. Nothing is ever deleted:
questions live on in older versions, codes are retired.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from program.accounts.models import Role
from program.activities.models import ActivityKind
from program.debriefs import codebook, services
from program.debriefs import template_versions as versions
from program.debriefs.defaults import ensure_defaults
from program.debriefs.forms import CodeEditForm, CodeForm, TemplateForm, specs_of
from program.debriefs.models import CODE_CATEGORY_LABELS, QUESTION_TYPE_LABELS, DebriefTemplate, ReasonCode
from program.errors import DomainError
from program.extensions import db
from program.timeutil import utcnow
from program.web import ConfirmForm, page_args, roles_required, run_post, save_form

bp = Blueprint("debrief_admin", __name__, url_prefix="/admin/debriefs")

MANAGERS = (Role.ADMIN.value, Role.HR.value)
KIND_LABELS = {k.value: k.label for k in ActivityKind}
CATEGORY_LABELS = {c.value: label for c, label in CODE_CATEGORY_LABELS.items()}
TYPE_LABELS = {t.value: label for t, label in QUESTION_TYPE_LABELS.items()}


def _kind_or_404(kind: str) -> str:
    if kind not in KIND_LABELS:
        abort(404)
    return kind


def _template_or_404(kind: str, version: int) -> DebriefTemplate:
    template = versions.template_version(kind, version)
    if template is None:
        abort(404)
    return template


def _current_or_none(kind: str) -> DebriefTemplate | None:
    try:
        return services.current_template(kind)
    except DomainError:
        return None


# --- templates -------------------------------------------------------------------------------


@bp.route("/templates")
@roles_required(*MANAGERS)
def templates():
    """Each kind's current version: number, published when and by whom, how many questions."""
    ensure_defaults(utcnow())
    db.session.commit()
    current = versions.current_versions()
    counts = versions.question_counts([t.id for t in current.values()])
    rows = [(kind, label, current.get(kind)) for kind, label in KIND_LABELS.items()]
    return render_template("debriefs/admin_templates.html", rows=rows, counts=counts)


@bp.route("/templates/<kind>/edit", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def template_edit(kind: str):
    """Edit the current questions; submitting publishes a new version (nothing is saved if anything is wrong)."""
    kind = _kind_or_404(kind)
    now = utcnow()
    current = _current_or_none(kind)
    if current is None:
        ensure_defaults(now)
        db.session.commit()
        current = services.current_template(kind)
    form = TemplateForm()
    started_from = current
    if request.method == "GET":
        start = request.args.get("from", type=int)
        if start is not None and start != current.version:
            started_from = _template_or_404(kind, start)
        form.fill(started_from)
        form.based_on.data = str(current.version)
    if form.validate_on_submit():
        if form.based_on.data != str(current.version):
            who = current.published_by.name if current.published_by else "someone"
            form.form_errors.append(
                f"Version {current.version} was published by {who} while you were editing, so nothing was saved. "
                f"Check it in the version history; publishing again replaces it with what is on this page."
            )
            form.based_on.data = str(current.version)
        elif form.specs == specs_of(current):
            form.form_errors.append(
                f"Nothing has changed since version {current.version}, so there is nothing to publish."
            )
        else:
            saved, template = save_form(
                form,
                lambda: versions.publish_template(current_user, kind, form.specs, now, form.note.data or ""),
            )
            if not saved and versions.PUBLISHED_MEANWHILE in form.form_errors:
                form.based_on.data = str(services.current_template(kind).version)  # publishing again replaces it
            elif saved:
                flash(
                    f"{KIND_LABELS[kind]} debrief: version {template.version} is published. "
                    f"Debriefs already started keep the version they began on.",
                    "success",
                )
                return redirect(url_for("debrief_admin.templates"))
    failed = request.method == "POST"
    return render_template(
        "debriefs/admin_template_edit.html",
        form=form,
        kind=kind,
        kind_label=KIND_LABELS[kind],
        current=current,
        started_from=started_from,
    ), (422 if failed else 200)


@bp.route("/templates/<kind>/versions")
@roles_required(*MANAGERS)
def template_versions(kind: str):
    """Every published version of a kind, newest first, with how many debriefs were given on each."""
    kind = _kind_or_404(kind)
    page, per_page = page_args(20)
    pagination = versions.versions_page(kind, page, per_page)
    ids = [t.id for t in pagination.items]
    return render_template(
        "debriefs/admin_template_versions.html",
        kind=kind,
        kind_label=KIND_LABELS[kind],
        pagination=pagination,
        question_counts=versions.question_counts(ids),
        debrief_counts=versions.debrief_counts(ids),
        latest=versions.latest_version(kind),
    )


@bp.route("/templates/<kind>/versions/<int:version>")
@roles_required(*MANAGERS)
def template_version(kind: str, version: int):
    """One version's questions, read-only."""
    kind = _kind_or_404(kind)
    template = _template_or_404(kind, version)
    latest = versions.latest_version(kind)
    return render_template(
        "debriefs/admin_template_version.html",
        kind=kind,
        kind_label=KIND_LABELS[kind],
        template=template,
        latest=latest,
        type_labels=TYPE_LABELS,
        category_labels=CATEGORY_LABELS,
    )


# --- codebook --------------------------------------------------------------------------------


def _code_or_404(code_id: int) -> ReasonCode:
    return db.get_or_404(ReasonCode, code_id)


def _list_url(code: ReasonCode) -> str:
    return url_for("debrief_admin.codes", category=code.category, retired="1" if code.retired else None)


@bp.route("/codes", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def codes():
    """The codebook by category, with how many answers use each code; add a code."""
    form = CodeForm()
    if request.method == "GET":
        ensure_defaults(utcnow())
        db.session.commit()
        if request.args.get("category") in CATEGORY_LABELS:
            form.category.data = request.args["category"]
    if form.validate_on_submit():
        saved, code = save_form(
            form,
            lambda: codebook.add_code(
                current_user, form.category.data, form.label.data or "", form.description.data or "", utcnow()
            ),
        )
        if saved:
            flash(f"“{code.label}” was added to {CATEGORY_LABELS[code.category]}.", "success")
            return redirect(url_for("debrief_admin.codes", category=code.category))
    category = request.args.get("category") or ""
    if category not in CATEGORY_LABELS:
        category = ""
    show_retired = request.args.get("retired") == "1"
    page, per_page = page_args(100)
    pagination = codebook.codes_page(category, show_retired, page, per_page)
    groups: dict[str, list[ReasonCode]] = {}
    for code in pagination.items:
        groups.setdefault(code.category, []).append(code)
    usage = codebook.usage_counts([c.id for c in pagination.items])
    return render_template(
        "debriefs/admin_codes.html",
        form=form,
        groups=groups,
        usage=usage,
        pagination=pagination,
        category_labels=CATEGORY_LABELS,
        filters={"category": category, "retired": show_retired},
    ), (422 if form.errors else 200)


@bp.route("/codes/<int:code_id>/edit", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def code_edit(code_id: int):
    code = _code_or_404(code_id)
    form = CodeEditForm(obj=code)
    if form.validate_on_submit():
        saved, _ = save_form(
            form,
            lambda: codebook.edit_code(
                current_user, code, form.label.data or "", form.description.data or "", utcnow()
            ),
        )
        if saved:
            flash(f"“{code.label}” was saved.", "success")
            return redirect(_list_url(code))
        code = _code_or_404(code_id)
    return render_template(
        "debriefs/admin_code_edit.html",
        form=form,
        code=code,
        usage=codebook.usage_counts([code.id]).get(code.id, 0),
        category_label=CATEGORY_LABELS.get(code.category, code.category),
    ), (422 if form.errors else 200)


def _change_retired(code_id: int, change, done: str):
    code = _code_or_404(code_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    run_post(lambda: change(current_user, code, utcnow()), lambda _: done.format(label=code.label))
    return redirect(_list_url(code))


@bp.route("/codes/<int:code_id>/retire", methods=["POST"])
@roles_required(*MANAGERS)
def code_retire(code_id: int):
    return _change_retired(
        code_id,
        codebook.retire_code,
        "“{label}” is retired: new debriefs no longer offer it; debriefs that used it still show it.",
    )


@bp.route("/codes/<int:code_id>/unretire", methods=["POST"])
@roles_required(*MANAGERS)
def code_unretire(code_id: int):
    return _change_retired(code_id, codebook.unretire_code, "“{label}” is offered in new debriefs again.")
