"""Forms for sign-in, passwords, people, departments, teams and the people import."""

from __future__ import annotations

from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from program.accounts.models import ROLE_CHOICES, Department, Team, User
from program.accounts.services import MIN_PASSWORD_LENGTH
from program.formutil import int_or_none, options, strip
from program.timeutil import all_timezones
from program.validation import TandemForm, from_column


class LoginForm(TandemForm):
    email = EmailField("Email", validators=[DataRequired(), Email()], filters=[strip])
    password = PasswordField("Password", validators=[DataRequired()])


class ChangePasswordForm(TandemForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField(
        "New password",
        validators=[
            DataRequired(),
            Length(min=MIN_PASSWORD_LENGTH, message=f"At least {MIN_PASSWORD_LENGTH} characters."),
        ],
        description=f"At least {MIN_PASSWORD_LENGTH} characters.",
    )
    confirm = PasswordField(
        "Repeat new password", validators=[DataRequired(), EqualTo("new_password", message="The two passwords differ.")]
    )


class ForgotPasswordForm(TandemForm):
    email = EmailField("Email", validators=[DataRequired(), Email()], filters=[strip])


class ResetPasswordForm(TandemForm):
    new_password = PasswordField(
        "New password",
        validators=[
            DataRequired(),
            Length(min=MIN_PASSWORD_LENGTH, message=f"At least {MIN_PASSWORD_LENGTH} characters."),
        ],
        description=f"At least {MIN_PASSWORD_LENGTH} characters.",
    )
    confirm = PasswordField(
        "Repeat new password", validators=[DataRequired(), EqualTo("new_password", message="The two passwords differ.")]
    )


class PersonForm(TandemForm):
    saves_to = (User,)

    name = StringField("Name", validators=[DataRequired(), *from_column(User.name)])
    email = EmailField("Email", validators=[DataRequired(), Email(), *from_column(User.email)], filters=[strip])
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


class DepartmentForm(TandemForm):
    saves_to = (Department,)

    name = StringField("Name", validators=[DataRequired(), *from_column(Department.name)])
    function = SelectField(
        "Function",
        choices=options([("sales", "Sales"), ("marketing", "Marketing"), ("other", "Other")]),
        default="other",
    )


class TeamForm(TandemForm):
    saves_to = (Team,)

    name = StringField("Name", validators=[DataRequired(), *from_column(Team.name)])
    department_id = SelectField("Department", coerce=int_or_none, validate_choice=False, validators=[DataRequired()])
    manager_id = SelectField("Manager", coerce=int_or_none, validate_choice=False)


class ImportUploadForm(TandemForm):
    file = FileField(
        "CSV file",
        validators=[FileRequired("Choose a CSV file."), FileAllowed(["csv", "txt"], "Upload a .csv file.")],
        description="Columns: email, name, department, team, role, manager_email, timezone. UTF-8.",
    )
