"""HR/admin: debrief templates (publish new versions) and the reason-code codebook. (Being built.)"""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import login_required

bp = Blueprint("debrief_admin", __name__, url_prefix="/admin/debriefs")


@bp.route("/templates")
@login_required
def templates():
    abort(404)


@bp.route("/codes")
@login_required
def codes():
    abort(404)
