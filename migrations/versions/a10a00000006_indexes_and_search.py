"""indexes for the pages at scale: debrief status by due date, the learnings search (PostgreSQL full text),
seat holders per activity

Revision ID: a10a00000006
Revises: a10a00000005
Create Date: 2026-12-03 09:00:00

"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = "a10a00000006"
down_revision = "a10a00000005"
branch_labels = None
depends_on = None


# As in program/debriefs/models.py (kept here as they were when this migration was written).
SEARCH_FUNCTION = """
CREATE OR REPLACE FUNCTION answer_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := CASE WHEN NEW.text <> '' THEN to_tsvector('simple', NEW.text) END;
    RETURN NEW;
END
$$
"""
SEARCH_TRIGGER = (
    "CREATE TRIGGER answer_search_vector BEFORE INSERT OR UPDATE OF text ON answer "
    "FOR EACH ROW EXECUTE FUNCTION answer_search_vector()"
)


SEAT_HOLDING = "state IN ('booked', 'offered')"


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("participation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_participation_seat_holders",
            ["activity_id", "offer_expires_at"],
            unique=False,
            postgresql_where=sa.text(SEAT_HOLDING),
            sqlite_where=sa.text(SEAT_HOLDING),
        )
    with op.batch_alter_table("debrief_task", schema=None) as batch_op:
        batch_op.create_index("ix_debrief_task_due_at_id", ["due_at", "id"], unique=False)

    with op.batch_alter_table("answer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("search_vector", sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"), nullable=True)
        )
    if postgres:
        op.execute(SEARCH_FUNCTION)
        op.execute(SEARCH_TRIGGER)
        op.execute("UPDATE answer SET search_vector = to_tsvector('simple', text) WHERE text <> ''")
    with op.batch_alter_table("answer", schema=None) as batch_op:
        batch_op.create_index(
            "ix_answer_search_vector",
            ["search_vector"],
            unique=False,
            postgresql_using="gin",
            postgresql_where=sa.text("search_vector IS NOT NULL"),
            sqlite_where=sa.text("search_vector IS NOT NULL"),
        )


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("answer", schema=None) as batch_op:
        batch_op.drop_index("ix_answer_search_vector")
    if postgres:
        op.execute("DROP TRIGGER IF EXISTS answer_search_vector ON answer")
        op.execute("DROP FUNCTION IF EXISTS answer_search_vector()")
    with op.batch_alter_table("answer", schema=None) as batch_op:
        batch_op.drop_column("search_vector")

    with op.batch_alter_table("debrief_task", schema=None) as batch_op:
        batch_op.drop_index("ix_debrief_task_due_at_id")
    with op.batch_alter_table("participation", schema=None) as batch_op:
        batch_op.drop_index("ix_participation_seat_holders")
