"""One router per resource, all under ``/api``; add a resource's router to ``api_router``."""

from __future__ import annotations

from fastapi import APIRouter

from dispatch.api.routes import (
    auth,
    courier,
    dispatch_board,
    live,
    live_ops,
    orders,
    report,
    setup,
    shop,
    town_map,
    tracking,
    webhooks,
)

api_router = APIRouter(prefix="/api")
api_router.include_router(auth.router)
api_router.include_router(orders.router)
api_router.include_router(tracking.router)
api_router.include_router(shop.router)
api_router.include_router(webhooks.router)
api_router.include_router(courier.router)
api_router.include_router(setup.router)
api_router.include_router(dispatch_board.router)
api_router.include_router(live.router)
api_router.include_router(live_ops.router)
api_router.include_router(town_map.router)
api_router.include_router(report.router)

__all__ = ["api_router"]
