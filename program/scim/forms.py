"""The SCIM admin pages' forms."""

from __future__ import annotations

from wtforms import StringField
from wtforms.validators import DataRequired

from program.scim.models import ScimToken
from program.validation import TandemForm, from_column


class ScimTokenForm(TandemForm):
    saves_to = (ScimToken,)

    name = StringField(
        "Name",
        validators=[DataRequired(), *from_column(ScimToken.name)],
        description="The identity provider this token is for, e.g. “Okta” or “Entra ID”.",
    )
