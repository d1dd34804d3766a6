"""Admin pages: people (list, create, edit, deactivate), departments, teams, the people import, outbox."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from program.accounts import people_import as importer
from program.accounts import services
from program.accounts.forms import DepartmentForm, ImportUploadForm, PersonForm, TeamForm
from program.accounts.models import ROLE_CHOICES, PeopleImport, Role, User
from program.extensions import db
from program.formutil import options
from program.mail.delivery import resend
from program.mail.models import MailStatus, OutboxMessage
from program.timeutil import utcnow
from program.web import ConfirmForm, page_args, roles_required, run_post, save_form

bp = Blueprint("admin", __name__, url_prefix="/admin")

ADMIN = (Role.ADMIN.value,)
ADMIN_OR_HR = (Role.ADMIN.value, Role.HR.value)


def _fill_choices(form: PersonForm | TeamForm) -> None:
    form.department_id.choices = options([("", "—")] + [(d.id, d.name) for d in services.departments()])
    people = services.active_people_choices()
    form.manager_id.choices = options([("", "— none —")] + [(i, f"{name} ({email})") for i, name, email in people])
    if isinstance(form, PersonForm):
        teams = services.teams()
        form.team_id.choices = options([("", "—")] + [(t.id, f"{t.name} ({t.department.name})") for t in teams])


@bp.route("/people")
@roles_required(*ADMIN_OR_HR)
def people():
    page, per_page = page_args()
    q = (request.args.get("q") or "").strip()
    role = request.args.get("role") or ""
    department = request.args.get("department", type=int)
    status = request.args.get("status") or "active"
    pagination = services.people_page(services.PeopleFilter(q, role, department, status), page, per_page)
    return render_template(
        "admin/people.html",
        pagination=pagination,
        departments=services.departments(),
        roles=ROLE_CHOICES,
        filters={"q": q, "role": role, "department": department, "status": status},
    )


def _person_data(form: PersonForm) -> services.PersonData:
    return services.PersonData(
        email=form.email.data or "",
        name=form.name.data or "",
        role=form.role.data,
        department_id=form.department_id.data,
        team_id=form.team_id.data,
        manager_id=form.manager_id.data,
        timezone=form.timezone.data,
        active=form.active.data,
    )


@bp.route("/people/new", methods=["GET", "POST"])
@roles_required(*ADMIN)
def person_new():
    form = PersonForm()
    _fill_choices(form)
    if request.method == "GET":
        form.timezone.data = current_app.config["DEFAULT_TIMEZONE"]
    if form.validate_on_submit():
        saved, person = save_form(
            form, lambda: services.save_person(current_user, _person_data(form), None, form.password.data or None)
        )
        if saved:
            flash(f"{person.name} was added.", "success")
            return redirect(url_for("admin.people"))
    return render_template("admin/person_form.html", form=form, person=None), (200 if not form.errors else 422)


@bp.route("/people/<int:person_id>/edit", methods=["GET", "POST"])
@roles_required(*ADMIN)
def person_edit(person_id: int):
    person = db.get_or_404(User, person_id)
    form = PersonForm(obj=person)
    _fill_choices(form)
    form.password.label.text = "Set a new password"
    if form.validate_on_submit():
        saved, _ = save_form(
            form, lambda: services.save_person(current_user, _person_data(form), person, form.password.data or None)
        )
        if saved:
            flash(f"{person.name} was saved.", "success")
            return redirect(url_for("admin.people"))
        person = db.get_or_404(User, person_id)  # as it is after the rollback
    return render_template("admin/person_form.html", form=form, person=person, confirm_form=ConfirmForm()), (
        200 if not form.errors else 422
    )


@bp.route("/people/<int:person_id>/deactivate", methods=["POST"])
@roles_required(*ADMIN)
def person_deactivate(person_id: int):
    person = db.get_or_404(User, person_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    run_post(
        lambda: services.deactivate_person(current_user, person),
        lambda _: f"{person.name} is deactivated and can no longer sign in.",
    )
    return redirect(url_for("admin.person_edit", person_id=person_id))


@bp.route("/people/<int:person_id>/reactivate", methods=["POST"])
@roles_required(*ADMIN)
def person_reactivate(person_id: int):
    person = db.get_or_404(User, person_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.reactivate_person(current_user, person)
    db.session.commit()
    flash(f"{person.name} can sign in again.", "success")
    return redirect(url_for("admin.person_edit", person_id=person_id))


@bp.route("/departments", methods=["GET", "POST"])
@roles_required(*ADMIN)
def departments():
    form = DepartmentForm()
    if form.validate_on_submit():
        saved, dept = save_form(form, lambda: services.add_department(current_user, form.name.data, form.function.data))
        if saved:
            flash(f"Department {dept.name} was added.", "success")
            return redirect(url_for("admin.departments"))
    rows = services.departments_with_counts()
    return render_template("admin/departments.html", form=form, rows=rows), (200 if not form.errors else 422)


@bp.route("/teams", methods=["GET", "POST"])
@roles_required(*ADMIN)
def teams():
    form = TeamForm()
    _fill_choices(form)
    if form.validate_on_submit():
        saved, team = save_form(
            form, lambda: services.add_team(current_user, form.name.data, form.department_id.data, form.manager_id.data)
        )
        if saved:
            flash(f"Team {team.name} was added.", "success")
            return redirect(url_for("admin.teams"))
    page, per_page = page_args(50)
    pagination = services.teams_page(page, per_page)
    return render_template("admin/teams.html", form=form, pagination=pagination), (200 if not form.errors else 422)


@bp.route("/people/import", methods=["GET", "POST"])
@roles_required(*ADMIN)
def people_import():
    form = ImportUploadForm()
    if form.validate_on_submit():
        raw = form.file.data.read()
        try:
            content = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            form.file.errors = ["The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."]
        else:
            saved, batch = save_form(
                form, lambda: importer.store_people_import(current_user, form.file.data.filename or "", content)
            )
            if saved:
                return redirect(url_for("admin.people_import_preview", batch_id=batch.id))
    return render_template("admin/import_upload.html", form=form), (200 if not form.errors else 422)


def _own_batch(batch_id: int) -> PeopleImport:
    batch = db.session.get(PeopleImport, batch_id)
    if batch is None or batch.uploaded_by_id != current_user.id or batch.applied_at is not None:
        abort(404)
    return batch


@bp.route("/people/import/<int:batch_id>", methods=["GET", "POST"])
@roles_required(*ADMIN)
def people_import_preview(batch_id: int):
    batch = _own_batch(batch_id)
    form = ConfirmForm()
    tz = current_app.config["DEFAULT_TIMEZONE"]
    if form.validate_on_submit():

        def apply() -> importer.ImportPreview:
            preview = importer.apply_people_import(current_user, batch.content, tz)
            batch.applied_at = utcnow()
            return preview

        done, _ = run_post(
            apply,
            lambda preview: (
                f"Import done: {preview.count('create')} added, {preview.count('update')} updated, "
                f"{preview.count('unchanged')} unchanged."
            ),
        )
        if done:
            return redirect(url_for("admin.people"))
    preview = importer.preview_people_import(batch.content, tz)
    return render_template("admin/import_preview.html", preview=preview, batch=batch, form=form)


@bp.route("/people/import/sample.csv")
@roles_required(*ADMIN)
def people_import_sample():
    return Response(
        importer.SAMPLE_CSV,
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=tandem-people-sample.csv"},
    )


@bp.route("/outbox")
@roles_required(*ADMIN)
def outbox():
    page, per_page = page_args()
    to = (request.args.get("to") or "").strip().lower()
    status = request.args.get("status") or ""
    if status not in {s.value for s in MailStatus}:
        status = ""
    pagination = services.outbox_page(to, status, page, per_page)
    return render_template(
        "admin/outbox.html",
        pagination=pagination,
        to=to,
        status=status,
        statuses=list(MailStatus),
        counts=services.outbox_counts(),
        smtp=bool(current_app.config["MAIL_SERVER"]),
        form=ConfirmForm(),
    )


@bp.route("/outbox/<int:message_id>")
@roles_required(*ADMIN)
def outbox_message(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    return render_template("admin/outbox_message.html", message=message, statuses=MailStatus, form=ConfirmForm())


@bp.route("/outbox/<int:message_id>/resend", methods=["POST"])
@roles_required(*ADMIN)
def outbox_resend(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    if ConfirmForm().validate_on_submit():
        run_post(lambda: resend(message, utcnow()), f"The message to {message.to} is queued to be sent again.")
    return redirect(url_for("admin.outbox_message", message_id=message.id))
