"""`hubspot`: HubSpot CRM deals (with their companies) as canonical ``crm_opportunities``.

Read from HubSpot's MCP server ``@hubspot/mcp-server`` 0.4.0 (npm, MIT; tarball sha256
8624301f45ec11f7a3d57aedb6d279b7cd499bced03cf4a4eb7255039bbdb46a; files
``dist/tools/objects/listObjectsTool.js``, ``batchReadObjectsTool.js``, ``searchObjectsTool.js``,
``dist/tools/baseTool.js``, ``dist/utils/client.js``). What it does, and what this adapter relies on:

- ``hubspot-list-objects {objectType, limit (1..500, default 100), after, properties[],
  associations[], archived}`` calls ``GET /crm/v3/objects/{objectType}`` and answers one *text*
  content (no structured content) holding ``JSON.stringify({results: [{id, properties, createdAt,
  updatedAt, archived, archivedAt, associations}], paging}, null, 2)``. Every property value is a
  JSON *string* (``"amount": "1500.50"``, ``"hs_is_closed_won": "true"``) or null; ``paging`` is
  HubSpot's ``{next: {after, link}}``, absent on the last page. No total is passed on (the REST
  search endpoint has one, but ``hubspot-search-objects`` drops it too), so completeness rests on
  following ``paging.next.after`` until it is absent (a repeated cursor fails the pull).
- ``associations: ["companies"]`` adds ``associations.companies.results[{id, type}]`` to each deal;
  ``type`` ``deal_to_company`` is the primary company, ``deal_to_company_unlabeled`` any other.
- ``hubspot-batch-read-objects {objectType, inputs: [{id}] (1..100), properties[]}`` answers
  ``{status, results: [{id, properties, ...}], requestedAt, startedAt, completedAt}``; ids HubSpot
  could not read are simply missing (the REST ``errors`` are not passed on).
- Failures are answered as text ``"Error listing HubSpot deals: HubSpot API Error: 401 ..."`` (or
  ``"Error: <validation message>"``). 0.4.0 flags them ``isError``; other builds and proxies do not,
  so ``decode`` treats any non-JSON answer starting with "Error" as the error it is.
- Proven against the package itself (tests/connectors/test_adapters_hubspot_server.py: 0.4.0 on
  Node 22, its calls to ``https://api.hubspot.com`` — the base URL it uses unless
  ``BASE_URL_OVERRIDE`` is set — answered by a stand-in of the CRM v3 REST API): its zod schemas take
  exactly the arguments sent here, it passes ``after`` tokens and a 207 partial batch read through
  as described, and its 401 text reaches the pull's error. The tool accepts ``limit`` up to 500
  but HubSpot documents 100 as the list endpoint's page maximum; paging follows ``paging.next.after``
  either way, so a larger ``page_size`` only means more, smaller pages than asked.
- Writes the server also exposes (``hubspot-batch-create-objects``, ``hubspot-batch-update-objects``,
  ``hubspot-create-property``, ``hubspot-create-engagement``, ...) are never declared here, so a
  config that allow-lists one is refused at load.

Mapping (one deal -> one row): ``opportunity_id`` = deal id; ``stage`` = ``dealstage`` (the stage's
internal id); ``amount`` = ``amount`` exactly as HubSpot wrote it (checked to be a decimal number);
``currency`` = ``deal_currency_code`` else ``options.currency``; ``close_date`` = ``closedate``
(a UTC timestamp) as a date in ``options.timezone`` (default UTC; use the portal's time zone);
``probability`` = ``hs_deal_stage_probability`` (a 0..1 fraction) x 100; ``owner`` =
``hubspot_owner_id``; ``customer_id`` = the primary company's ``options.customer_id_property``
(e.g. a property holding the ERP customer number) when set and filled, else the HubSpot company
id; ``customer_name`` = the company's ``name``, read with one ``hubspot-batch-read-objects`` call
per 100 new company ids after each page of deals. Open/won/lost: a stage listed in
``options.won_stages`` / ``lost_stages`` / ``open_stages`` wins; else HubSpot's own
``hs_is_closed_won`` / ``hs_is_closed_lost`` (or ``hs_is_closed``); else the default pipeline's
ids (``closedwon``, ``closedlost`` and its five open stages). A deal that cannot be mapped (no
amount, an amount that is not a number, no currency, a stage whose outcome cannot be told, an
unreadable close date) is quarantined with the reason.

HubSpot's *hosted* server (``https://mcp.hubspot.com``, OAuth 2.1 with PKCE through a pre-registered
MCP auth app; issue 9) is not supported yet, on purpose. What could be found (searched 2026-11):
- tool names and one-line descriptions only, from third-party catalogues that list its tools/list
  (developersdigest.tech/mcp-servers/hubspot, speakeasy.com/product/mcp-gateway/catalog/hubspot):
  ``get_user_details``, ``get_organization_details``, ``discover_hubspot_schema``,
  ``search_crm_objects`` (filter groups, text query, sorting, paging; its description says it returns
  records with ``id``, ``properties``, ``urlTemplate``, plus ``total`` and an ``offset`` for the next
  page), ``get_crm_objects`` (up to 100 objects by id), ``search_properties``, ``search_owners``,
  ``query_crm_data`` and the writes ``manage_crm_objects``, ``manage_segment``, ...;
- one third-party client script calling ``search_crm_objects`` with ``{objectType, properties, limit:
  200, filterGroups, offset}`` and reading one JSON text ``{results, total, offset}``.
HubSpot publishes no input schema or answer format for these tools (developers.hubspot.com documents
the REST API and the npm server, not the hosted tools' arguments), and how ``get_crm_objects`` /
``search_crm_objects`` expose a deal's associated companies is not described anywhere found. Mapping
them would mean inventing the wire shape, so this adapter keeps to the npm server; the hosted tools are
not declared, so a config allow-listing them is refused at load rather than mis-read.

Config::

    crm:
      adapter: hubspot
      server: {command: npx, args: [-y, "@hubspot/mcp-server@0.4.0"],
               env: {PRIVATE_APP_ACCESS_TOKEN: "${HUBSPOT_TOKEN}"}}
      allow_tools: [hubspot-list-objects, hubspot-batch-read-objects]
      options: {currency: USD, timezone: America/New_York, customer_id_property: erp_customer_id}
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.adapters.base import Adapter, Mapped, Stream, item_json, to_text_batch
from connectors.adapters.paging import CursorPaging, Envelope
from connectors.adapters.text import result_text
from connectors.client import ConnectorError, Page

if TYPE_CHECKING:
    from connectors.client import SourceSession
    from connectors.config import ConnectorConfig

LIST_TOOL = "hubspot-list-objects"
BATCH_READ_TOOL = "hubspot-batch-read-objects"
DEAL_PROPERTIES = (
    "dealname",
    "amount",
    "deal_currency_code",
    "closedate",
    "dealstage",
    "pipeline",
    "hs_deal_stage_probability",
    "hubspot_owner_id",
    "hs_is_closed_won",
    "hs_is_closed_lost",
    "hs_is_closed",
)
DEFAULT_WON = frozenset({"closedwon"})
DEFAULT_LOST = frozenset({"closedlost"})
DEFAULT_OPEN = frozenset(
    {
        "appointmentscheduled",
        "qualifiedtobuy",
        "presentationscheduled",
        "decisionmakerboughtin",
        "contractsent",
    }
)
BATCH_MAX = 100  # hubspot-batch-read-objects takes at most 100 inputs
LIMIT_MAX = 500  # hubspot-list-objects: limit 1..500


def _flag(value: Any) -> bool | None:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _string_list(options: dict[str, Any], key: str) -> frozenset[str]:
    value = options.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"options.{key}: a list of HubSpot deal stage ids")
    return frozenset(value)


class HubSpotAdapter(Adapter):
    name = "hubspot"
    default_tools = (LIST_TOOL, BATCH_READ_TOOL)
    options = ("currency", "timezone", "page_size", "won_stages", "lost_stages", "open_stages", "customer_id_property")

    def __init__(self) -> None:
        self.currency: str | None = None
        self.zone: ZoneInfo | None = None
        self.page_size = 100
        self.won: frozenset[str] = frozenset()
        self.lost: frozenset[str] = frozenset()
        self.open: frozenset[str] = frozenset()
        self.customer_id_property: str | None = None
        self._companies: dict[str, dict[str, Any]] = {}

    def configure(self, config: ConnectorConfig) -> None:
        super().configure(config)
        options = config.options
        currency = options.get("currency")
        if currency is not None and not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
            raise ValueError(f"options.currency: a 3-letter ISO 4217 code, got {currency!r}")
        self.currency = currency.upper() if currency else None
        zone = options.get("timezone")
        try:
            self.zone = ZoneInfo(str(zone)) if zone else None
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"options.timezone: unknown time zone {zone!r}") from None
        page_size = options.get("page_size", 100)
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= LIMIT_MAX:
            raise ValueError(f"options.page_size: an integer 1..{LIMIT_MAX} (hubspot-list-objects' limit)")
        self.page_size = page_size
        self.won, self.lost, self.open = (
            _string_list(options, k) for k in ("won_stages", "lost_stages", "open_stages")
        )
        both = sorted((self.won & self.lost) | (self.won & self.open) | (self.lost & self.open))
        if both:
            raise ValueError(f"stages listed under more than one of won_stages/lost_stages/open_stages: {both}")
        prop = options.get("customer_id_property")
        if prop is not None and not isinstance(prop, str):
            raise ValueError("options.customer_id_property: the name of a HubSpot company property")
        self.customer_id_property = prop or None

    def read_tools(self) -> frozenset[str]:
        return frozenset({LIST_TOOL, BATCH_READ_TOOL})

    def used_tools(self) -> frozenset[str]:
        return frozenset({LIST_TOOL, BATCH_READ_TOOL})

    def streams(self) -> list[Stream]:
        arguments = {"objectType": "deals", "properties": list(DEAL_PROPERTIES), "associations": ["companies"]}
        paging = CursorPaging(cursor_arg="after", limit_arg="limit", limit=self.page_size)
        return [Stream("crm_opportunities", LIST_TOOL, arguments, paging=paging)]

    # -- reading answers --------------------------------------------------------------------
    def decode(self, stream: Stream | None, result: Any, *, limit_bytes: int) -> tuple[Any, int]:
        text = result_text(result, limit_bytes=limit_bytes)
        try:
            payload = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            if text.lstrip().lower().startswith("error"):
                raise ValueError(f"the server reported an error: {text.strip()[:500]}") from None
            raise ValueError(f"response is not JSON ({exc.msg} at char {exc.pos}): {text[:120]!r}") from None
        return payload, len(text)

    def envelope(self, stream: Stream, payload: Any) -> Envelope:
        if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
            raise ValueError("the answer is not {results: [...], paging}")
        paging = payload.get("paging")
        after = None
        if isinstance(paging, dict) and isinstance(paging.get("next"), dict):
            after = paging["next"].get("after")
        return Envelope(payload["results"], str(after) if after not in (None, "") else None)

    async def pages(self, session: SourceSession, stream: Stream) -> AsyncIterator[Page]:
        """The deals, page by page; before a page is handed on, the companies it names that are not
        known yet are read (``hubspot-batch-read-objects``, 100 ids a call)."""
        self._companies = {}
        async for page in stream.pager.pages(session, self, stream):
            wanted = sorted(
                {cid for item in page.items if (cid := self._company_id(item)) and cid not in self._companies}
            )
            for start in range(0, len(wanted), BATCH_MAX):
                await self._read_companies(session, wanted[start : start + BATCH_MAX])
            yield page

    async def _read_companies(self, session: SourceSession, ids: list[str]) -> None:
        properties = ["name", *([self.customer_id_property] if self.customer_id_property else [])]
        arguments = {"objectType": "companies", "inputs": [{"id": i} for i in ids], "properties": properties}
        payload, _ = await session.call(BATCH_READ_TOOL, arguments, decode=lambda r, **kw: self.decode(None, r, **kw))
        if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
            raise ConnectorError(session.name, BATCH_READ_TOOL, "the answer is not {status, results: [...]}")
        for company in payload["results"]:
            if isinstance(company, dict) and company.get("id") is not None:
                props = company.get("properties")
                self._companies[str(company["id"])] = props if isinstance(props, dict) else {}
        for missing in set(ids) - set(self._companies):
            self._companies[missing] = {}  # not readable (deleted, no scope): id kept, name unknown

    # -- mapping ------------------------------------------------------------------------------
    @staticmethod
    def _company_id(deal: Any) -> str | None:
        if not isinstance(deal, dict):
            return None
        assoc = deal.get("associations")
        companies = assoc.get("companies") if isinstance(assoc, dict) else None
        results = companies.get("results") if isinstance(companies, dict) else None
        if not isinstance(results, list):
            return None
        links = [r for r in results if isinstance(r, dict) and r.get("id") is not None]
        primary = [r for r in links if r.get("type") == "deal_to_company"]
        chosen = (primary or links or [None])[0]
        return str(chosen["id"]) if chosen else None

    def _outcome(self, stage: str, props: dict[str, Any]) -> tuple[bool, bool] | str:
        """(is_won, is_closed), or the reason it cannot be told."""
        if stage in self.won:
            return True, True
        if stage in self.lost:
            return False, True
        if stage in self.open:
            return False, False
        won, lost, closed = (_flag(props.get(k)) for k in ("hs_is_closed_won", "hs_is_closed_lost", "hs_is_closed"))
        if won is not None and (lost is not None or closed is not None):
            return won, bool(won or lost or closed)
        if stage in DEFAULT_WON:
            return True, True
        if stage in DEFAULT_LOST:
            return False, True
        if stage in DEFAULT_OPEN:
            return False, False
        return (
            f"cannot tell whether deal stage {stage!r} is open, won or lost: the deal carries no "
            "hs_is_closed_won/hs_is_closed_lost and the stage is not in HubSpot's default pipeline; "
            "list it under options.won_stages, lost_stages or open_stages"
        )

    def _close_date(self, value: str) -> str:
        text = value.strip()
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        if text.isdigit():  # epoch milliseconds (the v1/v2 API shape)
            moment = datetime.fromtimestamp(int(text) / 1000, UTC)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.zone or UTC).date().isoformat()

    def _row(self, deal: Any) -> dict[str, Any] | str:
        if not isinstance(deal, dict) or deal.get("id") in (None, ""):
            return "not a HubSpot object with an id"
        props = deal.get("properties")
        if not isinstance(props, dict):
            return "the deal has no properties object"
        amount = props.get("amount")
        if amount is None or not str(amount).strip():
            return "the deal has no amount"
        amount = str(amount).strip()
        try:
            if not Decimal(amount).is_finite():
                raise InvalidOperation
        except InvalidOperation:
            return f"amount {amount!r} is not a decimal number"
        currency = (props.get("deal_currency_code") or self.currency or "").strip().upper()
        if not currency:
            return "the deal has no deal_currency_code and options.currency is not set"
        stage = (props.get("dealstage") or "").strip()
        if not stage:
            return "the deal has no dealstage"
        outcome = self._outcome(stage, props)
        if isinstance(outcome, str):
            return outcome
        close = props.get("closedate")
        try:
            close_date = self._close_date(str(close)) if close not in (None, "") else None
        except (ValueError, OverflowError, OSError):
            return f"closedate {close!r} is not a date or timestamp"
        probability = props.get("hs_deal_stage_probability")
        if probability not in (None, ""):
            try:
                percent = Decimal(str(probability).strip()) * 100
                if not percent.is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                return f"hs_deal_stage_probability {probability!r} is not a number"
            probability = format(percent.normalize(), "f")
        else:
            probability = None
        company_id = self._company_id(deal)
        company = self._companies.get(company_id, {}) if company_id else {}
        customer_id = company_id
        if company_id and self.customer_id_property and company.get(self.customer_id_property):
            customer_id = str(company[self.customer_id_property]).strip()
        return {
            "opportunity_id": str(deal["id"]),
            "customer_id": customer_id,
            "customer_name": company.get("name") or None,
            "stage": stage,
            "amount": amount,
            "currency": currency,
            "close_date": close_date,
            "probability": probability,
            "owner": props.get("hubspot_owner_id") or None,
            "is_won": "true" if outcome[0] else "false",
            "is_closed": "true" if outcome[1] else "false",
        }

    def map_items(self, stream: Stream, items: Sequence[Any]) -> Mapped:
        rows: list[dict[str, Any]] = []
        rejected: list[tuple[str, str]] = []
        for deal in items:
            row = self._row(deal)
            if isinstance(row, str):
                rejected.append(
                    (item_json(deal), f"HubSpot deal {deal.get('id') if isinstance(deal, dict) else '?'}: {row}")
                )
            else:
                rows.append(row)
        return Mapped(to_text_batch(stream.table, rows), rejected)
