"""The gateway's lifecycle: connectors, the inbox, recovery, background services, shutdown.

`Gateway.run(stop)` serves until `stop` is set, then drains: no new work starts, running
turns get `gateway.grace_period` seconds, then services, connectors and the control endpoint
close. Message handling itself lives in `agentbox.gateway.dispatch`; connector supervision in
`agentbox.gateway.supervisor`; reply delivery and the outbox in `agentbox.gateway.delivery`.

When every enabled connector has failed for good (missing or rejected token, unsupported
mode) the gateway stops and `run` raises `NoConnectorCanWork`: nothing could ever reach it.

Extension points: `gateway.delivery.send(address, outbound)` for components that deliver
later (video jobs; it queues in the outbox while the platform is down), `gateway.send` to
try once, and `gateway.add_service(service)` for background services started and stopped
with the gateway (also loadable by dotted path from `agentbox.runtime.GATEWAY_SERVICES`).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from agentbox import __version__
from agentbox.channels import CHANNEL_NAMES, CHANNELS, enabled_channels
from agentbox.config import Config
from agentbox.errors import AgentboxError
from agentbox.gateway.access import PairingService
from agentbox.gateway.approval_notices import ApprovalNotices
from agentbox.gateway.control import Authenticator, ControlServer, Route
from agentbox.gateway.delivery import DeliveryService
from agentbox.gateway.diskfull import is_disk_full
from agentbox.gateway.dispatch import Dispatcher, Job
from agentbox.gateway.routing import route
from agentbox.gateway.supervisor import ConnectorSlot
from agentbox.messages import Address, Connector, ConnectorError, Inbound, Outbound
from agentbox.store import Store
from agentbox.store.inbox import sanitize_inbound
from agentbox.tasks import TaskSet
from agentbox.turn.caps import caps_status
from agentbox.turn.runner import TurnRunner

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # a message whose handling was interrupted this often is marked failed, not retried


@runtime_checkable
class WebFeature(Protocol):
    """A service that also serves HTTP on the gateway's port (API, webhooks, web panel).

    Its routes and authenticators are mounted on the control server before it starts; see
    `agentbox.gateway.control` for how a route declares its authentication.
    """

    def routes(self) -> Sequence[Route]: ...

    def authenticators(self) -> Sequence[Authenticator]: ...


@runtime_checkable
class Service(Protocol):
    """A background service run alongside the gateway (e.g. the video job poller)."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


ServiceFactory = Callable[["Gateway"], Service]


class NoConnectorCanWork(AgentboxError):
    """Every enabled connector failed for good (or none is enabled): the gateway has stopped."""


def enabled_connectors(config: Config, env: Mapping[str, str]) -> dict[str, Callable[[], Connector]]:
    """Factories for the enabled channels; SDKs are imported only when a connector is created."""
    return {spec.name: functools.partial(spec.create, config, env) for spec in enabled_channels(config)}


class Gateway:
    """The daemon: owns the connector slots, the dispatcher, reply delivery (the outbox), pairing
    notices, background services and the control endpoint, and wires them to one store and runner.

    `run(stop)` starts the control endpoint, the outbox, then every enabled connector under
    supervision, then the services; it serves until `stop` is set and then drains (`shutdown`).
    Guarantees: an inbound message is stored before `deliver` returns, so nothing acknowledged is
    lost; messages a crash left unfinished are resumed, per channel, before newer ones; a message
    seen before is handled once; replies the platform did not take wait in the outbox.
    """

    notify_interval = 30.0  # safety net: approvals the CLI could not report to us get their notice this late
    send_wait = 30.0  # how long a reply waits for a restarting connector

    def __init__(
        self,
        config: Config,
        store: Store,
        runner: TurnRunner,
        *,
        connectors: Mapping[str, Callable[[], Connector]] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.runner = runner
        env = os.environ if env is None else env
        factories = enabled_connectors(config, env) if connectors is None else connectors
        self.slots = {name: ConnectorSlot(name, factory) for name, factory in factories.items()}
        self.pairing = PairingService(store.pairing)
        self.notices = ApprovalNotices(store.pairing, self._ready_connector)
        self.delivery = DeliveryService(
            store,
            self.connector_now,
            max_age=config.gateway.outbox_max_age,
            retry_initial=config.gateway.outbox_retry_initial,
        )
        self.dispatcher = Dispatcher(
            config,
            store,
            runner,
            connector_for=self.connector,
            pairing=self.pairing,
            notices=self.notices,
            delivery=self.delivery,
        )
        self.control: ControlServer | None = None
        self.services: list[Service] = []
        self.started_at = time.time()
        self._accepting = False
        self._recovered: dict[str, list[Job] | None] = {name: [] for name in self.slots}  # None once recovered
        self._recovery_upto = 0
        self._tasks = TaskSet("gateway", log)

    # -- extension points -------------------------------------------------------------
    def add_service(self, service: Service) -> None:
        """Register a background service; started after connectors, stopped before them."""
        self.services.append(service)

    async def send(self, address: Address, outbound: Outbound) -> list[str]:
        """Send once through the channel's connector (waits briefly for a restarting one); raises ConnectorError.

        For a reply that must arrive, use `delivery.send`: it keeps what fails in the outbox.
        """
        connector = await self.connector(address.channel)
        return await connector.send(address, outbound)

    async def connector(self, channel: str) -> Connector:
        slot = self.slots.get(channel)
        if slot is None:
            raise ConnectorError(f"no {channel} connector is enabled")
        try:
            await asyncio.wait_for(slot.ready.wait(), self.send_wait)
        except TimeoutError:
            raise ConnectorError(f"the {channel} connector is not ready ({slot.state})") from None
        if slot.connector is None:
            raise ConnectorError(f"the {channel} connector is not running ({slot.state})")
        return slot.connector

    def _ready_connector(self, channel: str) -> Connector | None:
        slot = self.slots.get(channel)
        return slot.connector if slot is not None and slot.ready.is_set() else None

    def connector_now(self, channel: str) -> Connector:
        """The channel's connector if it is running now; raises ConnectorError (the outbox retries later)."""
        slot = self.slots.get(channel)
        if slot is None:
            raise ConnectorError(f"no {channel} connector is enabled")
        if not slot.ready.is_set() or slot.connector is None:
            raise ConnectorError(f"the {channel} connector is not ready ({slot.state})")
        return slot.connector

    # -- inbound ----------------------------------------------------------------------
    async def deliver(self, inbound: Inbound) -> None:
        """Connectors call this: the message is durable when it returns; handling happens in a task."""
        inbound = sanitize_inbound(inbound)
        if inbound.migrated_from is not None:  # an event, not a message: settled before the next update
            await self.dispatcher.group_moved(inbound)
            return
        try:
            row_id = await self.store.inbox.add(inbound)
        except Exception as exc:  # the connector keeps the message and delivers it again
            if is_disk_full(exc):
                self.dispatcher.disk_full.report(f"{inbound.channel} message {inbound.message_id} not stored: {exc}")
            raise
        if row_id is None:
            log.debug(
                "%s message %s in chat %s seen before: skipped", inbound.channel, inbound.message_id, inbound.chat_id
            )
            return
        if not self._accepting:
            return  # stored while shutting down: handled after the next start
        job = Job([row_id], inbound, route(self.config, inbound))
        held = self._recovered.get(inbound.channel)
        if held is not None:
            held.append(job)  # the crash backlog of this channel goes first
        else:
            self.dispatcher.submit(job)

    async def _on_ready(self, slot: ConnectorSlot) -> None:
        try:  # approvals made while this connector was down or no gateway ran
            await self.notices.send_due(slot.name)
        except Exception:
            log.exception("%s: could not send pending approval notices", slot.name)
        self.delivery.channel_ready(slot.name)
        held = self._recovered.get(slot.name)
        if held is None:
            return
        rows = [
            row
            for row in await self.store.inbox.unfinished(upto_id=self._recovery_upto)
            if row.inbound.channel == slot.name
        ]
        by_turn: dict[int, Job] = {}
        count = 0
        for row in rows:
            if row.attempts >= MAX_ATTEMPTS:
                # Tried this often and never finished: likely the message itself crashes us. Stop looping.
                log.error("%s message %s: giving up after %d attempts", slot.name, row.inbound.message_id, row.attempts)
                await self.store.inbox.finish([row.id], "failed", f"gave up after {row.attempts} attempts")
                continue
            if row.turn_id is not None and row.turn_id in by_turn:
                by_turn[row.turn_id].row_ids.append(row.id)  # one batched answer covered several rows
                continue
            job = Job([row.id], row.inbound, route(self.config, row.inbound), turn_id=row.turn_id)
            if row.turn_id is not None:
                by_turn[row.turn_id] = job
            self.dispatcher.submit(job)
            count += 1
        if count:
            log.info("%s: resuming %d message(s) left unfinished by the last run", slot.name, count)
        self._recovered[slot.name] = None
        for job in held:
            self.dispatcher.submit(job)

    # -- lifecycle --------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set, then shut down gracefully.

        Raises ControlError if the endpoint can't bind, and NoConnectorCanWork (after shutting
        down) when every enabled connector has failed for good.
        """
        gw = self.config.gateway
        self._recovery_upto = await self.store.inbox.max_id()
        self.control = ControlServer(
            home=self.config.home,
            host=gw.host,
            port=gw.port,
            allow_non_loopback=gw.allow_non_loopback,
            status=self.status,
            actions={"/pairing/notify": self._notify_now},
        )
        for service in self.services:
            if isinstance(service, WebFeature):
                for route in service.routes():
                    self.control.add_route(route)
                for authenticator in service.authenticators():
                    self.control.add_authenticator(authenticator)
        await self.control.start()
        if self.slots:  # before any connector can log that it is ready: the docs show this order
            log.info("gateway running (pid %d)", os.getpid())
        await self._warm_up()
        await self.delivery.start()  # before the connectors: replies queued by the last run go first
        self._accepting = True
        supervised = [
            self._tasks.spawn(slot.run(self.deliver, self._on_ready), name=f"connector {slot.name}")
            for slot in self.slots.values()
        ]
        self._tasks.spawn(self._notify_approvals(), name="approval notices")
        for service in self.services:
            try:
                await service.start()
                log.info("service %s started", service.name)
            except Exception:
                log.exception("service %s failed to start", service.name)
        if not await self._serve_until(stop, supervised):
            await self.shutdown()
            raise NoConnectorCanWork(self._no_connector_reason())
        await self.shutdown()

    async def _serve_until(self, stop: asyncio.Event, supervised: list[asyncio.Task[None]]) -> bool:
        """Wait for `stop`; False when every supervised connector ended first (each failed for good)."""
        stopping: asyncio.Future[Any] = asyncio.create_task(stop.wait(), name="stop signal")
        all_failed: asyncio.Future[Any] = asyncio.gather(*supervised, return_exceptions=True)  # run() ends when fatal
        try:
            await asyncio.wait([stopping, all_failed], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        return stop.is_set() or not all_failed.done()

    def _no_connector_reason(self) -> str:
        if not self.slots:
            first, *others = CHANNEL_NAMES
            return f"no connector is enabled: set enabled = true under [channels.{first}] (or {'/'.join(others)})"
        failures = "; ".join(f"{name}: {slot.state}" for name, slot in self.slots.items())
        return f"no connector can work ({failures}); fix the above and start the gateway again"

    async def _warm_up(self) -> None:
        """Import the model client and build the agents now, off the loop where possible.

        Otherwise the first turn imports the OpenAI SDK (seconds) on the event loop, stalling
        every connector and session while it does.
        """
        try:
            for module in ("pydantic_ai.models.openai", "pydantic_ai.providers.openai"):
                await asyncio.to_thread(importlib.import_module, module)
            for agent_id in sorted(self._agent_ids()):
                self.runner.agent(agent_id)
                self.runner.models.model(self.config.agent(agent_id).model)
        except Exception as exc:  # a broken skill or model id shows up on the first turn, with context
            log.warning("warm-up failed (the first turn will retry): %s", exc)

    def _agent_ids(self) -> set[str]:
        ids = {spec.settings_in(self.config).agent for spec in CHANNELS if spec.name in self.slots}
        ids.update(binding.agent for binding in self.config.bindings)
        return ids or {"main"}

    async def shutdown(self) -> None:
        self._accepting = False
        log.info("shutting down: letting running turns finish (up to %.0fs)", self.config.gateway.grace_period)
        for service in reversed(self.services):
            try:
                await service.stop()
            except Exception:
                log.exception("service %s failed to stop", service.name)
        if not await self.dispatcher.drain(self.config.gateway.grace_period):
            log.warning("grace period over: unfinished turns will be resumed on the next start")
        await self.delivery.stop()  # replies still waiting stay in the outbox for the next start
        for slot in self.slots.values():
            await slot.stop()
        await self._tasks.aclose()
        await self.notices.aclose()
        if self.control is not None:
            await self.control.stop()
        log.info("gateway stopped")

    async def _notify_approvals(self) -> None:
        """The safety net behind `POST /pairing/notify`: notices still owed after `notify_interval`."""
        while True:
            await asyncio.sleep(self.notify_interval)
            try:
                await self.notices.send_due()
            except Exception:
                log.exception("approval notices: sweep failed")

    async def _notify_now(self) -> dict[str, Any]:
        """`agentbox pairing approve` calls this right after writing the approval."""
        return {"sent": await self.notices.send_due()}

    async def status(self) -> dict[str, Any]:
        pending = await self.store.pairing.pending()
        by_channel: dict[str, int] = {}
        for request in pending:
            by_channel[request.channel] = by_channel.get(request.channel, 0) + 1
        return {
            "ok": True,
            "version": __version__,
            "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started_at, 1),
            "accepting": self._accepting,
            "connectors": {name: {"state": slot.state, "restarts": slot.restarts} for name, slot in self.slots.items()},
            "lanes": {
                "busy": self.runner.lanes.busy_count,
                "sessions_active": self.dispatcher.active_sessions,
                "queued": self.dispatcher.queued,
            },
            "pairing": {
                "pending": len(pending),
                "by_channel": by_channel,
                "refused": await self.store.pairing.refusals(),
            },
            "inbox": await self.store.inbox.counts(),
            "outbox": await self.delivery.backlog(),
            "services": [service.name for service in self.services],
            "spend": (await caps_status(self.config.limits, self.store)).as_json(),
        }


def load_services(gateway: Gateway, dotted: list[str]) -> None:
    """Instantiate `module:factory` entries; a broken one is logged and skipped, never fatal."""
    for spec in dotted:
        module_name, _, attr = spec.partition(":")
        try:
            factory: ServiceFactory = getattr(importlib.import_module(module_name), attr)
            gateway.add_service(factory(gateway))
        except Exception:
            log.exception("background service %s could not be loaded", spec)
