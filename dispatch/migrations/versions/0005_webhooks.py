"""Webhooks for shops' systems: ``webhooksubscription`` (a shop's URL, secret and event types)
and ``webhookdelivery`` (the outbox and its delivery log).

A delivery row is written in the same transaction as the event it reports; the sender picks
pending rows by ``(status, next_attempt_at)``. Names follow the naming convention in
dispatch/models.py.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhooksubscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("secret", sa.String(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shop.id"], name=op.f("fk_webhooksubscription_shop_id_shop")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooksubscription")),
    )
    with op.batch_alter_table("webhooksubscription", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhooksubscription_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "webhookdelivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=False),
        sa.Column("attempt_log", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhooksubscription.id"],
            name=op.f("fk_webhookdelivery_subscription_id_webhooksubscription"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhookdelivery")),
    )
    with op.batch_alter_table("webhookdelivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhookdelivery_status_next_attempt_at",
            ["status", "next_attempt_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_webhookdelivery_subscription_id"), ["subscription_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhookdelivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhookdelivery_subscription_id"))
        batch_op.drop_index("ix_webhookdelivery_status_next_attempt_at")
    op.drop_table("webhookdelivery")

    with op.batch_alter_table("webhooksubscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhooksubscription_shop_id"))
    op.drop_table("webhooksubscription")
