"""Learnings feed, tactics triage, reason-code insight. (Being built.)"""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import login_required

bp = Blueprint("insight", __name__)


@bp.route("/learnings")
@login_required
def learnings():
    abort(404)


@bp.route("/tactics")
@login_required
def tactics():
    abort(404)


@bp.route("/insight")
@login_required
def index():
    abort(404)
