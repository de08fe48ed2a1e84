"""The clock of every branch: grace times run out and scheduled rules change by themselves.

Every process runs a ticker. Ticking is harmless to repeat: a Tick that finds
nothing due appends nothing, and two processes expiring the same ticket race
on compare-and-append, so one no-show is written and the other process
decides again and finds nothing left to do.
"""

from __future__ import annotations

import asyncio
import logging

from queueapp.domain import commands as cmd
from queueapp.domain.errors import DomainError
from queueapp.service.branches import BranchService
from queueapp.store import StoreError

log = logging.getLogger(__name__)


class Ticker:
    def __init__(
        self, service: BranchService, interval: float = 1.0, rescan_every: int = 10
    ) -> None:
        self.service = service
        self.interval = interval
        self.rescan_every = rescan_every

    async def run(self) -> None:
        """Tick every branch until cancelled; a failing branch is logged, never fatal."""
        branches: list[str] = []
        beat = 0
        while True:
            if beat % self.rescan_every == 0:
                branches = await self._branches(branches)
            for branch in branches:
                await self.tick(branch, reconcile=beat % self.rescan_every == 0)
            beat += 1
            await asyncio.sleep(self.interval)

    async def tick(self, branch: str, reconcile: bool = False) -> None:
        """Expire and admit; with ``reconcile``, also apply a saved config the day has not seen.

        A manager's save stores the document, then applies it to the day; if
        the process died in between, this finishes the job.
        """
        try:
            if reconcile:
                config = await self.service.config(branch)
                state = await self.service.state(branch)
                if state.config is not None and state.config.revision < config.revision:
                    await self.service.execute(branch, cmd.ApplyConfig(config), actor="system")
            await self.service.execute(branch, cmd.Tick(), actor="system")
        except (DomainError, StoreError) as exc:
            log.warning("tick of branch %s failed: %s", branch, exc)

    async def _branches(self, previous: list[str]) -> list[str]:
        try:
            return [config.id for config in await self.service.configs()]
        except StoreError as exc:
            log.warning("could not list branches: %s", exc)
            return previous
