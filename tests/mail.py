"""A local SMTP server (aiosmtpd) and a webhook receiver on 127.0.0.1, for the delivery tests
(tests/test_delivery.py, the group's delivery in tests/test_entities.py): the fixtures `smtp` and
`hooks` (tests/conftest.py) start them once per module; `Watch` takes what arrived during each step."""

from __future__ import annotations

import email
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.conftest import free_port

HOOK_TOKEN = "T0KEN-s3cret"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


class Hooks:
    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []


def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """(the inbox, the port) of an SMTP server on 127.0.0.1, stopped on exit (conftest's `smtp` fixture)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def webhook_receiver() -> Iterator[tuple[Hooks, str]]:
    """(what was posted, the URL to post to) of a webhook receiver on 127.0.0.1, stopped on exit
    (conftest's `hooks` fixture)."""
    received = Hooks()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.posts.append((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, f"http://127.0.0.1:{server.server_address[1]}/hook/{HOOK_TOKEN}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Stage:
    """What the SMTP server and the webhook received during one step."""

    emails: list[EmailMessage] = field(default_factory=list)
    envelopes: list[list[str]] = field(default_factory=list)
    posts: list[tuple[str, dict]] = field(default_factory=list)


class Watch:
    def __init__(self, inbox: Inbox, hooks: Hooks) -> None:
        self.inbox, self.hooks = inbox, hooks
        self.mark = (0, 0)

    def take(self) -> Stage:
        emails, posts = self.mark
        stage = Stage(self.inbox.messages[emails:], self.inbox.recipients[emails:], self.hooks.posts[posts:])
        self.mark = (len(self.inbox.messages), len(self.hooks.posts))
        return stage
