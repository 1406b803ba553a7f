"""HTTP routes, one module per area. ``ROUTERS`` is what ``create_app`` mounts."""

from __future__ import annotations

from fastapi import APIRouter

from . import admin
from . import auth
from . import context
from . import conversations
from . import data
from . import memories
from . import ops
from . import telemetry
from . import users

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    ops.router,
    auth.router,
    memories.router,
    conversations.router,
    context.router,
    users.router,
    data.router,
    telemetry.router,
    admin.router,
)
