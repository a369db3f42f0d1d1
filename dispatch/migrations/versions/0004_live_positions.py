"""Live positions: every GPS fix a courier's phone sends (``position``) and each courier's
latest one (``courierposition``).

A fix is unique per (courier, device, sequence number), so a batch sent twice is stored once.
Names follow the naming convention in dispatch/models.py.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:15:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "courierposition",
        sa.Column("courier_id", sa.Integer(), nullable=False),
        sa.Column("shift_id", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["courier_id"], ["courier.id"], name=op.f("fk_courierposition_courier_id_courier")
        ),
        sa.ForeignKeyConstraint(
            ["shift_id"], ["shift.id"], name=op.f("fk_courierposition_shift_id_shift")
        ),
        sa.PrimaryKeyConstraint("courier_id", name=op.f("pk_courierposition")),
    )
    op.create_table(
        "position",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("courier_id", sa.Integer(), nullable=False),
        sa.Column("shift_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["courier_id"], ["courier.id"], name=op.f("fk_position_courier_id_courier")
        ),
        sa.ForeignKeyConstraint(
            ["shift_id"], ["shift.id"], name=op.f("fk_position_shift_id_shift")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_position")),
        sa.UniqueConstraint(
            "courier_id", "device_id", "seq", name="uq_position_courier_device_seq"
        ),
    )
    with op.batch_alter_table("position", schema=None) as batch_op:
        batch_op.create_index("ix_position_courier_id_at", ["courier_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_position_shift_id"), ["shift_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("position", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_position_shift_id"))
        batch_op.drop_index("ix_position_courier_id_at")

    op.drop_table("position")
    op.drop_table("courierposition")
