"""Proof of delivery: the ``deliveryphoto`` table, one photo per delivery stop.

The image itself is kept (``data``, at most 2 MB, JPEG, PNG or WebP as sniffed from its bytes)
with its SHA-256 and size, which the stop's ``complete`` event also records, and who uploaded
it. The unique index on ``stop_id`` allows one photo per stop. Names follow the naming
convention in dispatch/models.py.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 21:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deliveryphoto",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stop_id", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["stop_id"], ["stop.id"], name=op.f("fk_deliveryphoto_stop_id_stop")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["user.id"], name=op.f("fk_deliveryphoto_uploaded_by_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveryphoto")),
    )
    with op.batch_alter_table("deliveryphoto", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveryphoto_stop_id"), ["stop_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("deliveryphoto", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveryphoto_stop_id"))

    op.drop_table("deliveryphoto")
