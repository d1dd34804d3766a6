"""Every domain's models in one place, so Alembic (and anyone reading) sees the whole schema.

``load_all()`` imports each module below; ``create_app`` calls it before the extensions start, so relationships
between domains resolve and ``flask db migrate`` compares against every table.
"""

from __future__ import annotations

from importlib import import_module

MODEL_MODULES = (
    "program.mail.models",  # outbox
    "program.jobs.registry",  # sent_notice
    "program.accounts.models",
    "program.accounts.provisioning",
    "program.activities.models",
    "program.calendar.models",
    "program.debriefs.models",
    "program.rides.models",
    "program.shadow.models",
    "program.reviews.models",
    "program.reviews.funnel.models",
    "program.goals.models",
    "program.reports.models",
    "program.scim.models",
)


def load_all() -> None:
    for name in MODEL_MODULES:
        import_module(name)
