"""Routes (being built)."""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import login_required

bp = Blueprint("reviews", __name__, url_prefix="/meetings")


@bp.route("/")
@login_required
def index():
    abort(404)
