"""A local stand-in for the part of HubSpot's CRM v3 REST API that ``@hubspot/mcp-server`` 0.4.0's
read tools call (``dist/utils/client.js``: ``fetch(`${BASE_URL_OVERRIDE || "https://api.hubspot.com"}${path}`)``
with ``Authorization: Bearer <PRIVATE_APP_ACCESS_TOKEN>``), answering as HubSpot documents it
(developers.hubspot.com, CRM objects v3 "List" and "Read a batch"):

- ``GET /crm/v3/objects/{objectType}?limit&after&properties=a,b&associations=companies&archived=false``
  -> 200 ``{results: [{id, properties, createdAt, updatedAt, archived, associations?}], paging?}``.
  Objects in id order; ``limit`` defaults to 10 and pages hold at most 100 (HubSpot's documented
  maximum for this endpoint: a larger ``limit`` is answered with 100); ``paging`` is
  ``{next: {after, link}}`` while more follow and absent on the last page; ``after`` is an opaque
  token. With ``properties`` each object carries exactly those (null when unset) plus
  ``createdate``, ``hs_lastmodifieddate`` and ``hs_object_id``; without, HubSpot's defaults.
  ``associations=companies`` adds ``associations.companies.results[{id, type}]`` to objects that have
  any (both the primary ``deal_to_company`` and the ``deal_to_company_unlabeled`` link, as v3 lists
  them) and nothing to those that have none.
- ``POST /crm/v3/objects/{objectType}/batch/read`` ``{inputs: [{id}], properties?}`` -> 200
  ``{status: "COMPLETE", results, startedAt, completedAt}``, or 207 Multi-Status with ``numErrors``
  and ``errors: [{status: "error", category: "OBJECT_NOT_FOUND", message, context: {ids}}]`` when
  some ids do not exist.
- A missing or wrong token -> 401 ``{status: "error", message: "Authentication credentials not
  found. ...", correlationId, category: "INVALID_AUTHENTICATION"}``; an unknown object type or a
  malformed body -> 400 ``{status: "error", category: "VALIDATION_ERROR", ...}``.

Data: ``tests/connectors/fixtures/hubspot/deals.json`` and ``companies.json`` (objects as HubSpot
stores them, with every property and the deals' company links), hand-written. Every request is
recorded in ``requests`` (method, path, query, body, the original host) and every paging token
handed out in ``handed_after``, so tests can check what the server asked.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.vendors import HTTPStandIn

FIXTURES = Path(__file__).resolve().parents[2] / "connectors" / "fixtures" / "hubspot"
PAGE_MAX = 100
DEFAULT_LIMIT = 10
ALWAYS = ("createdate", "hs_lastmodifieddate", "hs_object_id")
DEFAULTS = {
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
}


def load(name: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _token(offset: int) -> str:
    """An opaque paging token (HubSpot's look like base64 text); the client must pass it back unread."""
    return base64.urlsafe_b64encode(f"closeboard:{offset}".encode()).decode().rstrip("=")


def _offset(token: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    head, _, number = text.partition(":")
    return int(number) if head == "closeboard" and number.isdigit() else None


class HubSpotStandIn(HTTPStandIn):
    """``with HubSpotStandIn(token) as api: api.url`` -> http://127.0.0.1:PORT (the whole API)."""

    content_type = "application/json;charset=utf-8"

    def __init__(
        self, token: str, *, deals: list[dict[str, Any]] | None = None, companies: list[dict[str, Any]] | None = None
    ) -> None:
        self.token = token
        self.objects: dict[str, list[dict[str, Any]]] = {
            "deals": sorted(deals if deals is not None else load("deals.json"), key=lambda o: int(o["id"])),
            "companies": sorted(
                companies if companies is not None else load("companies.json"), key=lambda o: int(o["id"])
            ),
        }
        self.requests: list[dict[str, Any]] = []
        self.handed_after: list[str] = []  # the paging tokens given out, in order
        self._lock = threading.Lock()
        super().__init__("hubspot-standin")

    # -- the API ---------------------------------------------------------------------------
    @staticmethod
    def _error(status: int, category: str, message: str) -> tuple[int, dict[str, Any]]:
        return status, {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}

    def _shape(self, kind: str, obj: dict[str, Any], properties: list[str] | None) -> dict[str, Any]:
        stored = obj["properties"]
        names = sorted(set(properties) | set(ALWAYS)) if properties else DEFAULTS[kind]
        return {
            "id": obj["id"],
            "properties": {n: stored.get(n) for n in names},
            "createdAt": obj["createdAt"],
            "updatedAt": obj["updatedAt"],
            "archived": False,
        }

    def list_objects(self, kind: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if kind not in self.objects:
            return self._error(400, "VALIDATION_ERROR", f"Unable to infer object type from: {kind}")
        try:
            limit = int(query.get("limit", [str(DEFAULT_LIMIT)])[0])
        except ValueError:
            return self._error(400, "VALIDATION_ERROR", "limit must be an integer")
        if limit < 1:
            return self._error(400, "VALIDATION_ERROR", "limit must be at least 1")
        limit = min(limit, PAGE_MAX)
        start = 0
        if "after" in query:
            offset = _offset(query["after"][0])
            if offset is None:
                return self._error(400, "VALIDATION_ERROR", f"Invalid after token: {query['after'][0]}")
            start = offset
        properties = [p for p in ",".join(query.get("properties", [])).split(",") if p] or None
        associations = [a for a in ",".join(query.get("associations", [])).split(",") if a]
        if query.get("archived", ["false"])[0] == "true":
            return 200, {"results": []}  # nothing archived here
        rows = self.objects[kind]
        results = []
        for obj in rows[start : start + limit]:
            out = self._shape(kind, obj, properties)
            links = {a: obj["associations"][a] for a in associations if a in (obj.get("associations") or {})}
            if links:
                out["associations"] = links
            results.append(out)
        answer: dict[str, Any] = {"results": results}
        if start + limit < len(rows):
            after = _token(start + limit)
            self.handed_after.append(after)
            answer["paging"] = {
                "next": {"after": after, "link": f"https://api.hubapi.com/crm/v3/objects/{kind}?after={after}"}
            }
        return 200, answer

    def batch_read(self, kind: str, body: Any) -> tuple[int, dict[str, Any]]:
        if kind not in self.objects:
            return self._error(400, "VALIDATION_ERROR", f"Unable to infer object type from: {kind}")
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
            return self._error(400, "VALIDATION_ERROR", "Invalid input JSON: inputs is required")
        if len(body["inputs"]) > 100:
            return self._error(400, "VALIDATION_ERROR", "Batch input limit of 100 exceeded")
        by_id = {o["id"]: o for o in self.objects[kind]}
        ids = [str(i.get("id")) for i in body["inputs"] if isinstance(i, dict)]
        found = [self._shape(kind, by_id[i], body.get("properties")) for i in dict.fromkeys(ids) if i in by_id]
        missing = [i for i in dict.fromkeys(ids) if i not in by_id]
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": found,
            "startedAt": "2026-06-15T10:00:00.000Z",
            "completedAt": "2026-06-15T10:00:00.042Z",
        }
        if not missing:
            return 200, answer
        answer.update(
            numErrors=1,
            errors=[
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.objects.OBJECT_NOT_FOUND",
                    "message": f"Could not get some {kind[:-1].upper()} objects, they may be deleted or not exist. "
                    "Check that ids are valid.",
                    "context": {"ids": missing},
                }
            ],
        )
        return 207, answer

    def answer(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        payload = None
        if body:
            try:
                payload = json.loads(body)
            except json.JSONDecodeError:
                return self._error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1")
        with self._lock:
            self.requests.append(
                {
                    "method": method,
                    "path": parts.path,
                    "query": query,
                    "body": payload,
                    "host": headers.get("x-forwarded-host"),
                }
            )
        if headers.get("Authorization") != f"Bearer {self.token}":
            return self._error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
                "you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
        segments = parts.path.strip("/").split("/")
        if method == "GET" and len(segments) == 4 and segments[:3] == ["crm", "v3", "objects"]:
            return self.list_objects(segments[3], query)
        if (
            method == "POST"
            and len(segments) == 6
            and segments[:3] == ["crm", "v3", "objects"]
            and segments[4:] == ["batch", "read"]
        ):
            return self.batch_read(segments[3], payload)
        return 404, {
            "status": "error",
            "message": f"Unable to route {method} {parts.path}",
            "correlationId": str(uuid.uuid4()),
            "category": "OBJECT_NOT_FOUND",
        }
