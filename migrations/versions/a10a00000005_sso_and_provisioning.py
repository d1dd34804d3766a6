"""single sign-on and provisioning: a person's OIDC subject and external id, SCIM tokens, the provisioning log

Revision ID: a10a00000005
Revises: a10a00000004
Create Date: 2026-12-02 09:00:00

"""
from alembic import op
import sqlalchemy as sa

import program.timeutil  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'a10a00000005'
down_revision = 'a10a00000004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated_at', program.timeutil.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('oidc_sub', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('external_id', sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_user_oidc_sub'), ['oidc_sub'])
        batch_op.create_index(batch_op.f('ix_user_external_id'), ['external_id'], unique=False)
    with op.batch_alter_table('team', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=255), nullable=True))

    op.create_table('scim_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('created_at', program.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('last_used_at', program.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', program.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_scim_token_created_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scim_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_scim_token_token_hash'))
    )
    op.create_table('provisioning_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', program.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('resource_type', sa.String(length=20), nullable=False),
    sa.Column('resource_id', sa.String(length=64), nullable=False),
    sa.Column('before_json', sa.Text(), nullable=False),
    sa.Column('after_json', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provisioning_event'))
    )
    with op.batch_alter_table('provisioning_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provisioning_event_at'), ['at'], unique=False)


def downgrade():
    with op.batch_alter_table('provisioning_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provisioning_event_at'))
    op.drop_table('provisioning_event')
    op.drop_table('scim_token')
    with op.batch_alter_table('team', schema=None) as batch_op:
        batch_op.drop_column('external_id')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_external_id'))
        batch_op.drop_constraint(batch_op.f('uq_user_oidc_sub'), type_='unique')
        batch_op.drop_column('external_id')
        batch_op.drop_column('oidc_sub')
        batch_op.drop_column('updated_at')
