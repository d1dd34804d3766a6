"""The debrief contest: leaderboard per period and HR's reproducible weighted draw. (Being built.)"""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import login_required

bp = Blueprint("contest", __name__)


@bp.route("/contest")
@login_required
def index():
    abort(404)
