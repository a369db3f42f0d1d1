"""One router per resource, all under ``/api``; add a resource's router to ``api_router``."""

from __future__ import annotations

from fastapi import APIRouter

from dispatch.api.routes import auth

api_router = APIRouter(prefix="/api")
api_router.include_router(auth.router)

__all__ = ["api_router"]
