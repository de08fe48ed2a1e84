"""The application, assembled: routes, error handlers and a lifespan that owns every resource.

Nothing connects at import time. The lifespan opens the store, builds the
branch service, starts the ticker and the live hub, and stops them in
reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

from starlette.applications import Starlette

from queueapp.service.access import TokenCache
from queueapp.service.access_changes import AccessChanges
from queueapp.service.branches import BranchService, Clock, utc_now
from queueapp.service.hub import Hub
from queueapp.service.ticker import Ticker
from queueapp.settings import Settings
from queueapp.store import open_store
from queueapp.web import (
    api_accounts,
    api_consoles,
    api_devices,
    api_manage,
    api_staff,
    api_visitors,
    live,
    pages,
    pages_consoles,
    pages_display,
    pages_login,
    pages_visitor,
    sessions,
)
from queueapp.web.errors import HANDLERS


def create_app(settings: Settings | None = None, clock: Clock = utc_now) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await open_store(settings.store_url)
        branches = BranchService(store, clock)
        app.state.store = store
        app.state.branches = branches
        app.state.tokens = TokenCache(store)
        app.state.access = AccessChanges(branches, app.state.tokens)
        hub = Hub(branches)
        app.state.hub = hub
        tasks = [
            asyncio.create_task(Ticker(branches, settings.tick_interval).run()),
            asyncio.create_task(hub.run()),
            asyncio.create_task(sessions.housekeeping(store, clock)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await store.close()

    app = Starlette(
        routes=[
            *api_visitors.routes,
            *api_staff.routes,
            *api_manage.routes,
            *api_accounts.routes,
            *api_consoles.routes,
            *api_devices.routes,
            *live.routes,
            *pages.routes,
            *pages_visitor.routes,
            *pages_display.routes,
            *pages_login.routes,
            *pages_consoles.routes,
        ],
        exception_handlers={**HANDLERS, **pages_login.HANDLERS},
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app


def create_served_app() -> Starlette:
    """The app as ``queueapp serve`` runs it: uvicorn calls this in every worker process."""
    app = create_app()
    _tune_collector()
    return app


def _tune_collector() -> None:
    """Make the collector's full passes rare: with thousands of sockets they are long.

    Each open websocket keeps over a hundred objects alive, and a full
    collection walks them all (about 0.3 s at 5,000 sockets here), stalling
    every feed. Full passes come when enough objects have been promoted out
    of the young generations; collecting the young one every 10,000
    allocations instead of every 700 lets most short-lived objects (messages
    in flight) die before they could be promoted, so full passes come rarely
    instead of every few seconds under load. What start-up loaded stays
    forever, so it is frozen out of every pass.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
