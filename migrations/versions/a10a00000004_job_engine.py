"""the job engine: outbox delivery log, export files in the database, procrastinate's schema on PostgreSQL

Revision ID: a10a00000004
Revises: a10a00000003
Create Date: 2026-12-02 09:00:00

Existing outbox rows were logged, not sent (the outbox held only mail written while no SMTP server was
configured): they become "logged". Finished exports kept on a host's disk cannot be moved here; they are
marked expired (the report can be exported again). On PostgreSQL, procrastinate's own schema (its tables,
types, functions and triggers) is installed; an upgrade of procrastinate that changes it comes with a
migration of ours that runs its SQL migration.
"""
from alembic import op
import sqlalchemy as sa

import program.timeutil  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'a10a00000004'
down_revision = 'a10a00000003'
branch_labels = None
depends_on = None


def _procrastinate_schema() -> str:
    from procrastinate.schema import SchemaManager

    return SchemaManager.get_schema()


def upgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.alter_column('subject', existing_type=sa.String(length=255), type_=sa.Text(), existing_nullable=False)
        batch_op.add_column(sa.Column('message_id', sa.String(length=255), server_default='', nullable=False))
        batch_op.add_column(sa.Column('status', sa.String(length=12), server_default='logged', nullable=False))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_attempt_at', program.timeutil.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('sent_at', program.timeutil.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_outbox_message_status_next', ['status', 'next_attempt_at'], unique=False)

    op.create_table('export_file',
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['export_job.id'], name=op.f('fk_export_file_job_id_export_job'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', name=op.f('pk_export_file'))
    )
    op.execute("UPDATE export_job SET state = 'expired', message = 'Expired' WHERE state = 'done'")
    with op.batch_alter_table('export_job', schema=None) as batch_op:
        batch_op.drop_column('file_path')

    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_procrastinate_schema())


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            """
            DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,
                procrastinate_workers CASCADE;
            DO $$ DECLARE f record; BEGIN
              FOR f IN SELECT p.oid::regprocedure AS sig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                       WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%' LOOP
                EXECUTE 'DROP FUNCTION IF EXISTS ' || f.sig || ' CASCADE';
              END LOOP;
            END $$;
            DROP TYPE IF EXISTS procrastinate_job_status, procrastinate_job_event_type CASCADE;
            """
        )
    with op.batch_alter_table('export_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('file_path', sa.String(length=500), server_default='', nullable=False))
    op.drop_table('export_file')
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_message_status_next')
        batch_op.drop_column('sent_at')
        batch_op.drop_column('last_error')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('status')
        batch_op.drop_column('message_id')
        batch_op.alter_column('subject', existing_type=sa.Text(), type_=sa.String(length=255), existing_nullable=False)
