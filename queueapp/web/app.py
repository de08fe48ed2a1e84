"""The application, assembled: routes, error handlers and a lifespan that owns every resource.

Nothing connects at import time. The lifespan opens the store, builds the
branch service and starts the ticker, and closes them in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette

from queueapp.service.branches import BranchService, Clock, utc_now
from queueapp.service.ticker import Ticker
from queueapp.settings import Settings
from queueapp.store import open_store
from queueapp.web import api_manage, api_staff, api_visitors
from queueapp.web.errors import HANDLERS


def create_app(settings: Settings | None = None, clock: Clock = utc_now) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await open_store(settings.store_url)
        branches = BranchService(store, clock)
        app.state.store = store
        app.state.branches = branches
        ticker = asyncio.create_task(Ticker(branches, settings.tick_interval).run())
        try:
            yield
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await store.close()

    app = Starlette(
        routes=[*api_visitors.routes, *api_staff.routes, *api_manage.routes],
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app
