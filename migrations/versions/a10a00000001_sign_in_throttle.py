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
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='sign_in', nullable=False))
        batch_op.create_index('ix_login_attempt_ip_at', ['ip', 'at'], unique=False)

    op.create_table('password_reset_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('at', program.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_reset_request'))
    )
    with op.batch_alter_table('password_reset_request', schema=None) as batch_op:
        batch_op.create_index('ix_password_reset_request_email_at', ['email', 'at'], unique=False)
        batch_op.create_index('ix_password_reset_request_ip_at', ['ip', 'at'], unique=False)

    op.create_table('throttle_key',
    sa.Column('scope', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=254), nullable=False),
    sa.Column('touched_at', program.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'key', name=op.f('pk_throttle_key'))
    )


def downgrade():
    op.drop_table('throttle_key')
    with op.batch_alter_table('password_reset_request', schema=None) as batch_op:
        batch_op.drop_index('ix_password_reset_request_ip_at')
        batch_op.drop_index('ix_password_reset_request_email_at')
    op.drop_table('password_reset_request')
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_login_attempt_ip_at')
        batch_op.drop_column('kind')
