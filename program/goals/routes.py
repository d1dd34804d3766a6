"""Routes (being built)."""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import login_required

bp = Blueprint("goals", __name__, url_prefix="/goals")


@bp.route("/")
@login_required
def index():
    abort(404)
