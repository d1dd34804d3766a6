"""calendar feed tokens stored as hashes

Revision ID: a10a00000003
Revises: a10a00000002
Create Date: 2026-12-02 04:40:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

import program.timeutil  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'a10a00000003'
down_revision = 'a10a00000002'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
