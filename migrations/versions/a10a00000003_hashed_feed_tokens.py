"""calendar feed tokens stored as hashes

Revision ID: a10a00000003
Revises: a10a00000002
Create Date: 2026-12-02 04:40:00

"""
import hashlib
import secrets

from alembic import op
import sqlalchemy as sa

import program.timeutil  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'a10a00000003'
down_revision = 'a10a00000002'
branch_labels = None
depends_on = None


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


feeds = sa.table(
    'calendar_feed',
    sa.column('id', sa.Integer()),
    sa.column('token', sa.String(64)),
    sa.column('token_hash', sa.String(64)),
)


def upgrade():
    # Hash every existing token in place, so calendars already subscribed keep working.
    with op.batch_alter_table('calendar_feed', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_hash', sa.String(length=64), nullable=True))
    conn = op.get_bind()
    for feed_id, token in conn.execute(sa.select(feeds.c.id, feeds.c.token)).all():
        conn.execute(feeds.update().where(feeds.c.id == feed_id).values(token_hash=_sha256(token)))
    with op.batch_alter_table('calendar_feed', schema=None) as batch_op:
        batch_op.drop_constraint('uq_calendar_feed_token', type_='unique')
        batch_op.drop_column('token')
        batch_op.alter_column('token_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_calendar_feed_token_hash'), ['token_hash'])


def downgrade():
    # A hash can't be turned back into its token: every feed gets a new random address (subscribers must
    # fetch theirs again from the calendar page).
    with op.batch_alter_table('calendar_feed', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token', sa.String(length=64), nullable=True))
    conn = op.get_bind()
    for (feed_id,) in conn.execute(sa.select(feeds.c.id)).all():
        conn.execute(feeds.update().where(feeds.c.id == feed_id).values(token=secrets.token_urlsafe(24)))
    with op.batch_alter_table('calendar_feed', schema=None) as batch_op:
        batch_op.drop_constraint('uq_calendar_feed_token_hash', type_='unique')
        batch_op.drop_column('token_hash')
        batch_op.alter_column('token', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_calendar_feed_token'), ['token'])
