"""learnings feed sharing flags on questions and debriefs

Revision ID: a10a00000002
Revises: a10a00000001
Create Date: 2026-12-02 04:40:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

import program.timeutil  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'a10a00000002'
down_revision = 'a10a00000001'
branch_labels = None
depends_on = None


# Until now every "learned" answer went to the learnings feed and every "tactic" to the tactics triage;
# existing templates keep sharing exactly those questions, and nothing else.
SHARED_KEYS = ("learned", "tactic")


def upgrade():
    with op.batch_alter_table('debrief_question', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shared_in_feed', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('debrief', schema=None) as batch_op:
        batch_op.add_column(sa.Column('keep_out_of_feed', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('share_with_everyone', sa.Boolean(), nullable=False, server_default=sa.false()))

    question = sa.table('debrief_question', sa.column('key', sa.String), sa.column('shared_in_feed', sa.Boolean))
    op.execute(question.update().where(question.c.key.in_(SHARED_KEYS)).values(shared_in_feed=True))


def downgrade():
    with op.batch_alter_table('debrief', schema=None) as batch_op:
        batch_op.drop_column('share_with_everyone')
        batch_op.drop_column('keep_out_of_feed')
    with op.batch_alter_table('debrief_question', schema=None) as batch_op:
        batch_op.drop_column('shared_in_feed')
