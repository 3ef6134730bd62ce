"""How a tool pages: the strategies an adapter picks per stream.

Real servers page in different ways (issue 7): closeboard's bundled servers and HubSpot follow a
cursor; Xero numbers its pages (a fixed page size, stop at a short page); Odoo takes limit/offset
and reports a total; mcp-server-sqlite and Stripe's list tools do not page at all. Each strategy
calls the tool through the session (allow-list, retries, call log), decodes the result with the
adapter's ``decode`` and reads the page with its ``envelope``; an adapter whose server pages some
other way (in the query text, by date windows) overrides ``Adapter.pages`` instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors.client import ConnectorError, Page, ProgressGuard, SourceSession
from connectors.payloads import page_as_of

if TYPE_CHECKING:
    from connectors.adapters.base import Adapter, Stream


@dataclass(frozen=True)
class Envelope:
    """One decoded page: its items and whatever the server said about the rest."""

    items: list[Any]
    next_cursor: str | None = None
    total: int | None = None
    as_of: str | None = None


class Paging:
    """Base strategy. ``kind`` is one of cursor, page, offset, none."""

    kind = ""

    def pages(self, session: SourceSession, adapter: Adapter, stream: Stream) -> AsyncIterator[Page]:
        raise NotImplementedError

    @staticmethod
    async def fetch(
        session: SourceSession, adapter: Adapter, stream: Stream, arguments: dict[str, Any], number: int
    ) -> tuple[Envelope, int]:
        payload, nbytes = await session.call(
            stream.tool, arguments, page=number, decode=lambda r, **kw: adapter.decode(stream, r, **kw)
        )
        try:  # an envelope that cannot read the page (a total of Infinity, NaN, "many"...) names the tool
            return adapter.envelope(stream, payload), nbytes
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise ConnectorError(session.name, stream.tool, f"page {number}: {exc}") from None


def _page(env: Envelope, number: int, nbytes: int, next_cursor: str | None = None) -> Page:
    return Page(env.items, next_cursor, env.total, page_as_of(env.as_of), number, nbytes)


@dataclass(frozen=True)
class CursorPaging(Paging):
    """Pass the previous page's cursor until the server answers none (closeboard's servers, HubSpot
    ``after``). ``limit`` None means the source's ``client.page_limit``; ``limit_arg`` None sends none."""

    cursor_arg: str = "cursor"
    limit_arg: str | None = "limit"
    limit: int | None = None
    kind = "cursor"

    async def pages(self, session: SourceSession, adapter: Adapter, stream: Stream) -> AsyncIterator[Page]:
        arguments = dict(stream.arguments)
        if self.limit_arg:
            arguments.setdefault(self.limit_arg, self.limit or session.config.client.page_limit)
        cursor: str | None = None
        guard = ProgressGuard(session.name, stream.tool)
        for number in range(1, session.config.client.max_pages + 1):
            args = dict(arguments, **{self.cursor_arg: cursor}) if cursor else arguments
            env, nbytes = await self.fetch(session, adapter, stream, args, number)
            cursor = env.next_cursor or None
            guard.page(number, env.items, cursor)  # a cursor seen before, or the same items again: stop
            yield _page(env, number, nbytes, cursor)
            if cursor is None:
                return
        raise ConnectorError(session.name, stream.tool, f"more than {session.config.client.max_pages} pages")


@dataclass(frozen=True)
class PageNumberPaging(Paging):
    """Ask for page 1, 2, ... until a page is shorter than ``page_size`` (Xero: pages of a fixed 10)
    or the reported total is reached. ``size_arg`` sends the page size when the server takes one."""

    page_size: int
    page_arg: str = "page"
    first: int = 1
    size_arg: str | None = None
    kind = "page"

    async def pages(self, session: SourceSession, adapter: Adapter, stream: Stream) -> AsyncIterator[Page]:
        arguments = dict(stream.arguments)
        if self.size_arg:
            arguments[self.size_arg] = self.page_size
        fetched = 0
        guard = ProgressGuard(session.name, stream.tool)
        for number in range(1, session.config.client.max_pages + 1):
            args = dict(arguments, **{self.page_arg: self.first + number - 1})
            env, nbytes = await self.fetch(session, adapter, stream, args, number)
            if len(env.items) > self.page_size:
                raise ConnectorError(
                    session.name,
                    stream.tool,
                    f"page {number} holds {len(env.items)} items, more than the page size {self.page_size}",
                )
            fetched += len(env.items)
            guard.page(number, env.items)  # a server ignoring the page number would repeat page 1
            yield _page(env, number, nbytes)
            if len(env.items) < self.page_size or (env.total is not None and fetched >= env.total):
                return
        raise ConnectorError(session.name, stream.tool, f"more than {session.config.client.max_pages} pages")


@dataclass(frozen=True)
class OffsetPaging(Paging):
    """limit/offset (Odoo): advance the offset by the items received until the total is reached or
    a page comes back short."""

    limit: int = 1000
    offset_arg: str = "offset"
    limit_arg: str = "limit"
    kind = "offset"

    async def pages(self, session: SourceSession, adapter: Adapter, stream: Stream) -> AsyncIterator[Page]:
        arguments = dict(stream.arguments)
        arguments[self.limit_arg] = self.limit
        offset = 0
        guard = ProgressGuard(session.name, stream.tool)
        for number in range(1, session.config.client.max_pages + 1):
            env, nbytes = await self.fetch(
                session, adapter, stream, dict(arguments, **{self.offset_arg: offset}), number
            )
            if len(env.items) > self.limit:
                raise ConnectorError(
                    session.name,
                    stream.tool,
                    f"page {number} holds {len(env.items)} items, more than limit {self.limit}",
                )
            offset += len(env.items)
            guard.page(number, env.items)  # a server ignoring the offset would repeat the first page
            yield _page(env, number, nbytes)
            if not env.items or len(env.items) < self.limit or (env.total is not None and offset >= env.total):
                return
        raise ConnectorError(session.name, stream.tool, f"more than {session.config.client.max_pages} pages")


@dataclass(frozen=True)
class NoPaging(Paging):
    """One call answers everything (mcp-server-sqlite's read_query, a small list tool)."""

    kind = "none"

    async def pages(self, session: SourceSession, adapter: Adapter, stream: Stream) -> AsyncIterator[Page]:
        env, nbytes = await self.fetch(session, adapter, stream, dict(stream.arguments), 1)
        yield _page(env, 1, nbytes)
