"""Forms for sign-in, passwords, people, departments, teams and the people import."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from program.accounts.models import ROLE_CHOICES
from program.accounts.services import MIN_PASSWORD_LENGTH
from program.formutil import int_or_none, options, strip
from program.timeutil import all_timezones


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email()], filters=[strip])
    password = PasswordField("Password", validators=[DataRequired()])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, message=f"At least {MIN_PASSWORD_LENGTH} characters.")],
        description=f"At least {MIN_PASSWORD_LENGTH} characters.",
    )
    confirm = PasswordField(
        "Repeat new password", validators=[DataRequired(), EqualTo("new_password", message="The two passwords differ.")]
    )


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email()], filters=[strip])


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, message=f"At least {MIN_PASSWORD_LENGTH} characters.")],
        description=f"At least {MIN_PASSWORD_LENGTH} characters.",
    )
    confirm = PasswordField(
        "Repeat new password", validators=[DataRequired(), EqualTo("new_password", message="The two passwords differ.")]
    )


class PersonForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)], filters=[strip])
    role = SelectField("Role", choices=options(ROLE_CHOICES))
    department_id = SelectField("Department", coerce=int_or_none, validate_choice=False)
    team_id = SelectField("Team", coerce=int_or_none, validate_choice=False)
    manager_id = SelectField("Manager", coerce=int_or_none, validate_choice=False)
    timezone = SelectField("Timezone", choices=options((z, z) for z in all_timezones()))
    active = BooleanField("Active (can sign in)", default=True)
    password = PasswordField(
        "Initial password",
        validators=[Optional()],
        description="Optional. Without one, the person sets a password through “Forgot password”.",
    )


class DepartmentForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    function = SelectField(
        "Function", choices=options([("sales", "Sales"), ("marketing", "Marketing"), ("other", "Other")]), default="other"
    )


class TeamForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    department_id = SelectField("Department", coerce=int_or_none, validate_choice=False, validators=[DataRequired()])
    manager_id = SelectField("Manager", coerce=int_or_none, validate_choice=False)


class ImportUploadForm(FlaskForm):
    file = FileField(
        "CSV file",
        validators=[FileRequired("Choose a CSV file."), FileAllowed(["csv", "txt"], "Upload a .csv file.")],
        description="Columns: email, name, department, team, role, manager_email, timezone. UTF-8.",
    )


class ConfirmForm(FlaskForm):
    """An empty form: a POST with a CSRF token, for confirmations."""
