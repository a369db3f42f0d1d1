"""The cutoff clock inside the service: close windows whose cutoff passed, then plan them.

An asyncio task started from the app's lifespan (``run_scheduler``). The database work is
blocking (and the solve takes seconds), so each tick runs in a worker thread with its own
session; the event loop keeps serving requests. Planning holds the window's lock, so a
scheduler in every worker process is safe: the second one to get there re-plans the window,
it does not duplicate it. One window that fails to plan is logged and does not stop the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dispatch import lifecycle, webhooks
from dispatch.models import DeliveryWindow, utc_now
from dispatch.planning import plan_window
from dispatch.replanning import replan_window, windows_with_late_orders

log = logging.getLogger("velocal.scheduler")


def tick(engine: Engine, *, now: datetime | None = None) -> list[int]:
    """Close the windows due at ``now``, plan every closed window and re-plan those with late
    orders; return the ids of the windows (re-)planned.

    Windows closed by hand (or by an earlier tick whose planning failed) are planned too.
    """
    with Session(engine) as session:
        lifecycle.close_due_windows(session, now=now)
        session.commit()
        query = (
            select(DeliveryWindow.id)
            .where(col(DeliveryWindow.status) == "closed")
            .order_by(col(DeliveryWindow.cutoff_at), col(DeliveryWindow.id))
        )
        due = [int(i) for i in session.exec(query).all() if i is not None]
    planned: list[int] = []
    for window_id in due:
        with Session(engine) as session:
            try:
                plan = plan_window(session, window_id)
            except Exception:
                log.exception("planning window %s failed", window_id)
                continue
            planned.append(window_id)
            log.info(
                "planned window %s: plan %s, %d unassigned",
                window_id,
                plan.id,
                len(plan.unassigned),
            )
    # Late orders accepted into windows whose routes are out: re-planned from where the
    # couriers are, so the new parcels get their stops (the courier app shows the change).
    with Session(engine) as session:
        late = windows_with_late_orders(session)
    for window_id in late:
        with Session(engine) as session:
            try:
                plan = replan_window(session, window_id, now=now)
            except Exception:
                log.exception("re-planning window %s for its late orders failed", window_id)
                continue
            planned.append(window_id)
            log.info("re-planned window %s for late orders: plan %s", window_id, plan.id)
    # Shops' webhooks after planning, so a slow receiver never delays a plan; bounded so the
    # next tick comes on time.
    with Session(engine) as session:
        try:
            webhooks.send_due(session, now=now, budget_s=20.0)
        except Exception:
            log.exception("sending webhook deliveries failed")
    return planned


async def run_scheduler(
    engine: Engine, *, interval_s: float = 30, stop_event: asyncio.Event
) -> None:
    """Tick every ``interval_s`` seconds until ``stop_event`` is set (the app's shutdown)."""
    while not stop_event.is_set():
        try:
            await asyncio.to_thread(tick, engine, now=utc_now())
        except Exception:  # a database outage must not end the clock
            log.exception("scheduler tick failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=interval_s)


__all__ = ["run_scheduler", "tick"]
