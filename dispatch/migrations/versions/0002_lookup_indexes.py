"""Indexes for the two hot queries: an entity's history, and a window's orders by status.

The tracking page and the dispatcher's timeline read ``WHERE entity = ? AND entity_id = ?
ORDER BY at`` from the event log, which grows with every status change; the planner and the
shop console read a window's orders by status.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 20:52:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_event_entity_entity_id_at", "event", ["entity", "entity_id", "at"])
    op.create_index("ix_order_window_status", "order", ["window_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_order_window_status", table_name="order")
    op.drop_index("ix_event_entity_entity_id_at", table_name="event")
