"""The application, assembled: routes, error handlers and a lifespan that owns every resource.

Nothing connects at import time. The lifespan opens the store, builds the
branch service, starts the ticker and the live hub, and stops them in
reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette

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
