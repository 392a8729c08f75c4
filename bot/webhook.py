"""The intake's Telegram webhook: an ASGI endpoint that handles each update, effects committed, before it
answers (docs/bot.md, "Webhook mode").

Why not python-telegram-bot's own webhook server: it answers 200 as soon as an update is queued, so an
update in hand when the process dies is lost, and Telegram, seeing it answered, sends the chat's next one
to another replica while this one is still working on the last. Here `Application.process_update` runs
inside the request (through the application's per-chat processor, and the chat's lock in the database):
the answer means "done", and Telegram, which sends a chat's next update only once the current one is
answered, keeps each chat in order across any number of replicas.

Threat: anyone who finds the endpoint could forge a reporter's updates. Telegram sends the secret token
given to setWebhook in `X-Telegram-Bot-Api-Secret-Token` with every update; it is compared in constant
time, and the path carries a component derived from it, so a scan of the host finds nothing to post to.
Refusals say nothing (a bare 401 or 404). Update bodies are parsed in memory and never stored or logged:
they carry the reporter's Telegram identity.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import json
import logging
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application, ContextTypes

from bot import state
from bot.application import ChatOrderedProcessor
from storage import crypto, updates
from storage.chat_lock import ChatLocks
from storage.errors import DatabaseUnavailableError
from storage.vault import Vault

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
PATH_PREFIX = "/telegram/"
# Telegram's updates are a few KiB (files come by getFile, never in the body); anything far larger is not one.
MAX_BODY = 1024 * 1024


class WebhookNotServedError(OSError):
    """The webhook endpoint could not start listening."""


@dataclass(frozen=True)
class Endpoint:
    """The secret token Telegram sends and the path it posts to (derived from the secret)."""

    secret: str = field(repr=False)

    @classmethod
    def with_secret(cls, secret: str | None) -> Endpoint:
        """The endpoint for a configured secret, or for one drawn now (256 bits) if there is none."""
        return cls(secret=secret or secrets.token_urlsafe(32))

    @property
    def path(self) -> str:
        """`/telegram/<24 characters>`: a keyed hash of the secret, so replicas sharing the secret share the
        path, and a path seen in a proxy's log does not give the secret."""
        digest = crypto.keyed_hash(self.secret.encode(), b"candour webhook path")
        return PATH_PREFIX + base64.urlsafe_b64encode(digest[:18]).decode("ascii")

    def url(self, public_base: str) -> str:
        """The URL to give setWebhook: the public base URL and this endpoint's path."""
        return public_base.rstrip("/") + self.path

    def admits(self, given: str | None) -> bool:
        """Whether a request's secret header is this endpoint's secret (compared in constant time)."""
        offered = (given or "").encode("latin-1", "replace")
        return hmac.compare_digest(offered, self.secret.encode("ascii"))


# --- handling one update --------------------------------------------------------------------------------


@dataclass
class _Delivery:
    """One update being handled in this request, and whether a handler of it failed."""

    update: Update
    failed: bool = False


_current: ContextVar[_Delivery | None] = ContextVar("candour_webhook_delivery", default=None)


async def _note_failure(update: object, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """An error handler, after the bot's own (which logs the error's type and tells the reporter)."""
    delivery = _current.get()
    if delivery is not None and update is delivery.update:
        delivery.failed = True


def prepare(application: Application, locks: ChatLocks) -> None:
    """Make `application` ready to be fed by `deliver`: each chat's updates also hold the chat's lock in the
    database (storage/chat_lock.py), and a failed handler is noted for the answer."""
    processor = application.update_processor
    if not isinstance(processor, ChatOrderedProcessor):
        raise TypeError("the webhook needs the application's ChatOrderedProcessor")
    processor.shared_lock = lambda chat_id: locks.hold(state.chat_ref(chat_id))
    application.add_error_handler(_note_failure)


async def deliver(application: Application, update: Update, vault: Vault) -> int:
    """Handle one update to the end; the HTTP status to answer Telegram with.

    - 200: handled, its effect committed; or a handler failed, the bot's error handler has told the
      reporter, and the update is recorded as handled so that it is not handled again.
    - 503: nothing was done (the application is stopping, the database or the chat's lock did not
      answer): Telegram sends it again, and storage/updates.py makes a second handling harmless.
    - 500: something outside every handler failed (the error's type is logged): the same.

    Why a failed handler answers 200 (a poison update): answered with an error, Telegram would send it
    again and again for hours, each time failing the same way and telling the reporter again, and it
    would send nothing else of that chat meanwhile. The reporter has been told to try again; what they
    send then is a new update. Recording the failed one also makes a redelivery (an answer lost on the
    way) a no-op rather than a second failure.
    """
    if not application.running:
        return 503
    delivery = _Delivery(update)
    token = _current.set(delivery)
    work = application.process_update(update)
    try:
        await application.update_processor.process_update(update, work)
    except DatabaseUnavailableError:  # the chat's lock (or its wait) failed: the handler never ran
        log.warning("an update waits for a retry: the chat's lock was not available")
        return 503
    except Exception as exc:  # outside any handler (the processor, a lock's release): Telegram sends it again
        log.error("an update could not be handled: %s", type(exc).__name__)
        return 500
    finally:
        work.close()  # a no-op once awaited; otherwise it would warn that it never ran
        _current.reset(token)
    if delivery.failed:
        return await _record_failure(application, update, vault)
    return 200


async def _record_failure(application: Application, update: Update, vault: Vault) -> int:
    update_tag = updates.tag(vault, bot_id=application.bot.id, update_id=update.update_id)
    try:
        await updates.record(vault, update_tag=update_tag)
    except updates.AlreadyHandledError:
        pass  # its effect was committed before the handler failed
    except DatabaseUnavailableError:
        return 503
    return 200


# --- the ASGI endpoint ----------------------------------------------------------------------------------


def build_endpoint(application: Application, endpoint: Endpoint, vault: Vault) -> Starlette:
    """The ASGI app: POST on the endpoint's path with its secret delivers an update; anything else is a
    bare 404 (another path or method) or 401 (a wrong or missing secret), and changes nothing."""

    async def receive(request: Request) -> Response:
        if not endpoint.admits(request.headers.get(SECRET_HEADER)):
            return Response(status_code=401)
        update = await _parse(request, application)
        if update is None:
            return Response(status_code=400)
        return Response(status_code=await deliver(application, update, vault))

    async def nothing(_request: Request, _exc: Exception) -> Response:
        return Response(status_code=404)

    return Starlette(
        routes=[Route(endpoint.path, receive, methods=["POST"])],
        exception_handlers={404: nothing, 405: nothing},
    )


async def _parse(request: Request, application: Application) -> Update | None:
    """The update in the request body, or None if it is not one; nothing of the body is logged."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    try:
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return None
        return Update.de_json(data, application.bot)
    except Exception as exc:  # malformed input of any kind is refused; only its type is said
        log.warning("a webhook request was not an update (%s)", type(exc).__name__)
        return None


# --- serving it -----------------------------------------------------------------------------------------


class _EmbeddedServer(uvicorn.Server):
    """uvicorn that leaves signals to the process it runs in (`candour serve intake` handles them)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.listening.set()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (0 picks a free port); WebhookNotServedError in one line if not."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError:
        raise WebhookNotServedError(
            f"the webhook cannot listen on {host}:{port}: check CANDOUR_WEBHOOK_HOST"
        ) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise WebhookNotServedError(
            f"the webhook cannot listen on {host}:{port} ({exc.strerror or type(exc).__name__}): "
            "check CANDOUR_WEBHOOK_HOST and CANDOUR_WEBHOOK_PORT"
        ) from None
    return sock


async def serve(
    app: Starlette,
    *,
    sock: socket.socket,
    stop: asyncio.Event,
    started: Callable[[], Awaitable[None]] | None = None,
    grace_seconds: float = 30.0,
) -> None:
    """Serve `app` on `sock` until `stop` is set, calling `started` once it listens; the socket is closed.

    On stop, requests in hand are finished (up to `grace_seconds`; any cut off then is unanswered, so
    Telegram sends it again). Why no access log: the request line carries the endpoint's path.
    """
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        proxy_headers=False,
        timeout_graceful_shutdown=grace_seconds,
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(_run(server, sock))
    try:
        listening = asyncio.create_task(server.listening.wait())
        await asyncio.wait({task, listening}, return_when=asyncio.FIRST_COMPLETED)
        listening.cancel()
        if not server.started:
            await task
            raise WebhookNotServedError("the webhook endpoint did not start")
        if started is not None:
            await started()
        waiter = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
    finally:
        server.should_exit = True
        with contextlib.suppress(WebhookNotServedError):
            await task
        sock.close()


async def _run(server: uvicorn.Server, sock: socket.socket) -> None:
    try:
        await server.serve(sockets=[sock])
    except SystemExit:  # uvicorn exits the process when it cannot listen; here that is one error
        raise WebhookNotServedError("the webhook endpoint cannot listen") from None
