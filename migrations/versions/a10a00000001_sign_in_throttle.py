"""sign-in and reset throttling per address and per client

Revision ID: a10a00000001
Revises: e8ed42298590
Create Date: 2026-12-02 04:40:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

import program.timeutil  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'a10a00000001'
down_revision = 'e8ed42298590'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
