"""A small Odoo 17 stand-in that answers Odoo's published external API over real HTTP.

What it serves (bound to 127.0.0.1, an ephemeral port, in a thread of the test process):

- XML-RPC ``/xmlrpc/2/common``: ``version()``, ``authenticate(db, login, password, env)``,
  ``login(db, login, password)`` (a wrong password answers ``False``, as Odoo does);
  ``/xmlrpc/db`` (and ``/xmlrpc/2/db``): ``list()``, ``server_version()``.
- XML-RPC ``/xmlrpc/2/object``: ``execute_kw(db, uid, password, model, method, args, kwargs)`` with
  ``search(domain, offset, limit, order)``, ``search_count(domain, limit)``, ``read(ids, fields)``,
  ``search_read(domain, fields, offset, limit, order)``, ``fields_get(allfields, attributes)`` and
  ``read_group(domain, fields, groupby, offset, limit, orderby, lazy)`` (Odoo 17's
  ``models.read_group``: ``fields`` as ``field``, ``field:agg`` or ``name:agg(field)``, a bare
  numeric field summed; ``groupby`` fields, dates with a granularity (``date:month`` by default);
  ``lazy`` groups by the first one only, counts in ``<field>_count`` and puts the rest in
  ``__context``, else ``__count``; groups ordered by ``orderby`` or the groupby keys, a many2one by
  its model's order; each group carries ``__domain`` (the caller's domain AND the group's), a
  many2one value as ``[id, display_name]``, a date as its label with ``__range``. Sums are exact, as
  Postgres sums ``numeric`` columns, and sent as floats, as Odoo does; a sum over nothing is False).
  The password may be the user's password or one of their API keys (Odoo accepts both over RPC).
- Domains in Odoo's prefix notation: ``&``, ``|``, ``!`` and leaves ``[path, op, value]`` with
  =, !=, <, <=, >, >=, in, not in, like, ilike, not like, not ilike, =like, =ilike; a dotted path
  follows many2one fields; many2one values compare by id (a string compares with the display name);
  ``!=`` and ``not in`` also match empty values, the order comparisons never do (Odoo's SQL).
- ``read`` renders a many2one as ``[id, display_name]``, an x2many as a list of ids and an empty
  value as ``False``; dates are ``YYYY-MM-DD`` strings; an unknown field fails the call.
- Faults as Odoo 17's ``/xmlrpc/2`` sends them (``xmlrpc_handle_exception_int``): 2 for a UserError
  (an unknown model: "Object x doesn't exist"), 3 "Access Denied" for bad credentials, 4 for an
  AccessError, 1 with the Python traceback text for anything else (ValueError: Invalid field ...).
- With ``module=True``, the routes the Odoo "MCP Server" module (``mcp_server``) adds:
  ``/mcp/xmlrpc/common``, ``/mcp/xmlrpc/db``, ``/mcp/xmlrpc/object`` (``execute_kw`` only, refused
  with fault 403 "Access denied by MCP for model 'm' method 'x'." unless the model is enabled for
  that operation; other failures come back as fault 500 "Internal Server Error in
  MCPObjectController: ..."), and the REST routes ``GET /mcp/health``, ``/mcp/auth/validate``,
  ``/mcp/models``, ``/mcp/models/<model>/access`` (``X-API-Key``), answering
  ``{"success": true, "data": ...}`` or ``{"success": false, "error": {"message", "code"}}``.

Records live in memory (``Database.models``); a test may change them between calls through
``Database.before_call`` and reads every call made from ``Database.calls``.

``Database.search_scope`` (model -> predicate on a row) narrows what the *search path* serves:
``search``, ``search_count`` and ``search_read`` return only the rows the predicate accepts, while
``read_group`` still aggregates every row. It stands for a deployment whose searches see less than
the ledger holds: a customization that limits the journal items a user's searches return to their
own journals (an override of ``search``/``search_count``, as list-view restrictions are often
written), which ``read_group``, what Odoo's reports and pivots aggregate with, does not go through.
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
import traceback
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from socketserver import ThreadingMixIn
from typing import Any
from xmlrpc.server import MultiPathXMLRPCServer, SimpleXMLRPCDispatcher, SimpleXMLRPCRequestHandler

from tests.vendors import LocalServer, send

VERSION = {
    "server_version": "17.0",
    "server_version_info": [17, 0, 0, "final", 0, ""],
    "server_serie": "17.0",
    "protocol_version": 1,
}
READ_METHODS = {"search", "search_read", "search_count", "read", "fields_get", "name_search", "read_group"}
FIELD_AGG = re.compile(r"(\w+)(?::(\w+)(?:\((\w+)\))?)?")  # odoo.models.regex_field_agg
AGGREGATES = ("sum", "min", "max", "avg", "count", "count_distinct", "bool_and", "bool_or", "array_agg")
GRANULARITIES = ("day", "week", "month", "quarter", "year")
NUMERIC = ("integer", "float", "monetary")


class UserError(Exception):
    """odoo.exceptions.UserError: fault code 2, the message as is."""


class AccessError(Exception):
    """odoo.exceptions.AccessError: fault code 4."""


class AccessDenied(Exception):
    """odoo.exceptions.AccessDenied: fault code 3."""


@dataclass
class Field:
    type: str  # integer char text selection date float monetary boolean many2one one2many many2many
    string: str
    relation: str | None = None
    selection: list[list[str]] | None = None
    store: bool = True


@dataclass
class Model:
    name: str
    description: str
    fields: dict[str, Field]
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    order: str = "id"
    rec_name: Callable[[dict[str, Any]], str] = lambda r: str(r.get("name") or "")  # noqa: E731

    def __post_init__(self) -> None:
        self.fields = {
            "id": Field("integer", "ID"),
            "display_name": Field("char", "Display Name", store=False),
            **self.fields,
        }


@dataclass
class User:
    uid: int
    login: str
    password: str
    api_keys: tuple[str, ...] = ()


class Database:
    """One Odoo database: its models, users and (optionally) the MCP module's settings."""

    def __init__(
        self, name: str, models: list[Model], users: list[User], *, mcp_models: dict[str, dict[str, bool]] | None = None
    ) -> None:
        self.name = name
        self.models = {m.name: m for m in models}
        self.users = {u.uid: u for u in users}
        self.mcp_models = mcp_models or {}  # model -> {read, write, create, unlink}, for module=True
        self.calls: list[tuple[str, str, str, list[Any], dict[str, Any]]] = []  # (path, model, method, args, kwargs)
        self.before_call: Callable[[str, str, list[Any], dict[str, Any]], None] | None = None
        # model -> the rows its search path serves (search, search_count, search_read); read_group sees all
        self.search_scope: dict[str, Callable[[dict[str, Any]], bool]] = {}
        self.lock = threading.RLock()

    # -- auth ---------------------------------------------------------------------------------
    def check(self, db: str, uid: Any, password: Any) -> User:
        if db != self.name:
            raise RuntimeError(f'connection to server failed: FATAL:  database "{db}" does not exist')
        user = self.users.get(uid) if isinstance(uid, int) else None
        if user is None or password not in (user.password, *user.api_keys):
            raise AccessDenied("Access Denied")
        return user

    def authenticate(self, db: str, login: str, password: str, user_agent_env: Any = None) -> int | bool:
        if db != self.name:
            raise RuntimeError(f'connection to server failed: FATAL:  database "{db}" does not exist')
        for user in self.users.values():
            if user.login == login and password in (user.password, *user.api_keys):
                return user.uid
        return False

    def user_for_key(self, key: str | None) -> User | None:
        return next((u for u in self.users.values() if key and key in u.api_keys), None)

    # -- the ORM ------------------------------------------------------------------------------
    def execute_kw(
        self,
        db: str,
        uid: int,
        password: str,
        model: str,
        method: str,
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        self.check(db, uid, password)
        args, kwargs = list(args or []), dict(kwargs or {})
        with self.lock:
            if self.before_call:
                self.before_call(model, method, args, kwargs)
            if model not in self.models:
                raise UserError(f"Object {model} doesn't exist")
            if method.startswith("_"):
                raise AccessError(f"Private methods (such as '{model}.{method}') cannot be called remotely.")
            impl = getattr(self, f"_m_{method}", None)
            if impl is None:
                raise AttributeError(f"The method '{method}' does not exist on the model '{model}'")
            kwargs.pop("context", None)
            return impl(self.models[model], *args, **kwargs)

    def _m_search(
        self, m: Model, domain: list[Any], offset: int = 0, limit: int | None = None, order: str | None = None
    ) -> list[int]:
        ids = self._search(m, domain, order, scoped=True)
        ids = ids[offset or 0 :]
        return ids[:limit] if limit else ids

    def _m_search_count(self, m: Model, domain: list[Any], limit: int | None = None) -> int:
        n = len(self._search(m, domain, None, scoped=True))
        return min(n, limit) if limit else n

    def _m_read(
        self, m: Model, ids: list[int], fields: list[str] | None = None, load: str = "_classic_read"
    ) -> list[dict[str, Any]]:
        names = list(fields) if fields else [f for f in m.fields if f != "id"]
        for name in names:
            if name not in m.fields:
                raise ValueError(f"Invalid field {name!r} on model {m.name!r}")
        missing = [i for i in ids if i not in m.rows]
        if missing:
            raise UserError(f"Record does not exist or has been deleted.\n(Record: {m.name}({missing[0]},), User: 2)")
        return [{"id": i, **{n: self._render(m, m.rows[i], n) for n in names if n != "id"}} for i in ids]

    def _m_search_read(
        self,
        m: Model,
        domain: list[Any] | None = None,
        fields: list[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[dict[str, Any]]:
        return self._m_read(m, self._m_search(m, domain or [], offset, limit, order), fields)

    def _m_fields_get(
        self, m: Model, allfields: list[str] | None = None, attributes: list[str] | None = None
    ) -> dict[str, Any]:
        out = {}
        for name, f in m.fields.items():
            if allfields and name not in allfields:
                continue
            info: dict[str, Any] = {
                "type": f.type,
                "string": f.string,
                "store": f.store,
                "readonly": True,
                "required": name == "id",
                "searchable": True,
                "sortable": f.store,
            }
            if f.relation:
                info["relation"] = f.relation
            if f.selection:
                info["selection"] = f.selection
            out[name] = {k: v for k, v in info.items() if not attributes or k in attributes}
        return out

    # -- read_group: Odoo 17's models.read_group over _read_group ---------------------------------
    def _m_read_group(
        self,
        m: Model,
        domain: list[Any],
        fields: list[str],
        groupby: list[str] | str,
        offset: int = 0,
        limit: int | None = None,
        orderby: str | bool = False,
        lazy: bool = True,
    ) -> list[dict[str, Any]]:
        groupby = [groupby] if isinstance(groupby, str) else list(groupby or [])
        lazy_groupby = groupby[:1] if lazy else groupby
        keys: dict[str, tuple[str, str | None]] = {}  # result key -> (field, date granularity)
        for spec in lazy_groupby:
            name, _, granularity = str(spec).partition(":")
            if name not in m.fields:
                raise ValueError(f"Invalid field {name!r} on model {m.name!r}")
            f = m.fields[name]
            if not f.store or f.type in ("one2many", "many2many"):
                raise ValueError(
                    f"Field {m.name}.{name} is not a stored field, only stored fields (regular or "
                    "many2many) are valid for the 'groupby' parameter"
                )
            if f.type in ("date", "datetime"):
                granularity = granularity or "month"
                if granularity not in GRANULARITIES:
                    raise ValueError(f"Invalid granularity {granularity!r} in {spec!r}")
            elif granularity:
                raise ValueError(f"Granularity set on a no-datetime field or property: {spec!r}")
            keys[spec] = (name, granularity or None)
        count_key = f"{lazy_groupby[0].split(':')[0]}_count" if lazy and len(lazy_groupby) == 1 else "__count"
        aggregates: dict[str, tuple[str, str]] = {count_key: ("__count", "count")}
        for spec in fields or []:
            if spec == "__count":
                continue
            match = FIELD_AGG.match(str(spec))
            if not match:
                raise ValueError(f"Invalid field specification {spec!r}.")
            name, func, fname = match.groups()
            if fname:  # "name:agg(field)"
                aggregates[name] = (fname, func)
            elif func:  # "field:agg"
                aggregates[name] = (name, func)
            elif name not in m.fields:
                raise ValueError(f"Invalid field {name!r} on model {m.name!r}")
            elif m.fields[name].store and m.fields[name].type in NUMERIC and spec not in keys:
                aggregates[name] = (name, "sum")  # a bare numeric field: its default aggregator
        for fname, func in aggregates.values():
            if fname == "__count":
                continue
            if fname not in m.fields:
                raise ValueError(f"Invalid field {fname!r} on model {m.name!r}")
            if func not in AGGREGATES:
                raise ValueError(f"Invalid aggregate method {func!r} for {fname!r}.")
            if not m.fields[fname].store:
                raise ValueError(f"Cannot aggregate field {fname!r}: it is not stored")
        order: list[tuple[str, bool]] = []
        for term in str(orderby).split(",") if orderby else list(keys):
            words = term.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
                raise ValueError(f"Invalid order {orderby!r} for read_group()")
            key = next((k for k in keys if words[0] in (k, k.split(":")[0])), None)
            if key is None and words[0] in aggregates:
                key = words[0]
            if key is None:
                raise ValueError(f"Order term {words[0]!r} is not a valid aggregate nor valid groupby")
            order.append((key, len(words) == 2 and words[1].lower() == "desc"))

        buckets: dict[tuple[Any, ...], list[dict[str, Any]]] = {} if keys else {(): []}
        for i in self._search(m, domain, None):  # the ledger whole: search_scope is the search path's
            row = m.rows[i]
            buckets.setdefault(tuple(self._group_value(m, row, *key) for key in keys.values()), []).append(row)
        groups = [
            (
                {
                    **dict(zip(keys, values, strict=True)),
                    **{k: self._aggregate(m, rows, fname, func) for k, (fname, func) in aggregates.items()},
                }
            )
            for values, rows in buckets.items()
        ]
        for key, desc in reversed(order):
            groups.sort(key=lambda g, k=key: self._group_sort_key(m, keys.get(k), g[k]), reverse=desc)
        groups = groups[offset or 0 :][:limit] if limit else groups[offset or 0 :]

        out = []
        for g in groups:
            row: dict[str, Any] = {}
            conditions: list[list[Any]] = [domain]
            ranges: dict[str, Any] = {}
            for spec, (name, granularity) in keys.items():
                value, f = g[spec], m.fields[name]
                if granularity and value is not False:
                    start, end = value
                    row[spec] = self._period_label(start, granularity)
                    ranges[spec] = {"from": start.isoformat(), "to": end.isoformat()}
                    conditions.append(["&", [name, ">=", start.isoformat()], [name, "<", end.isoformat()]])
                    continue
                if granularity:
                    ranges[spec] = False
                if f.type == "many2one" and value is not False:
                    target = self.models[f.relation]  # type: ignore[index]
                    row[spec] = [value, target.rec_name(target.rows[value])]
                else:
                    row[spec] = value
                conditions.append([[name, "=", value]])
            row.update({k: (False if g[k] is None else g[k]) for k in aggregates})
            if ranges:
                row["__range"] = ranges
            row["__domain"] = _and(conditions)
            if len(lazy_groupby) < len(groupby):
                row["__context"] = {"group_by": groupby[len(lazy_groupby) :]}
            out.append(row)
        return out

    def _group_value(self, m: Model, row: dict[str, Any], name: str, granularity: str | None) -> Any:
        value = row.get(name)
        if value in (None, "") or (value is False and m.fields[name].type != "boolean"):
            return False
        if not granularity:
            return value
        day = date.fromisoformat(str(value)[:10])
        if granularity == "day":
            return day, day + timedelta(days=1)
        if granularity == "week":  # Postgres date_trunc('week'): ISO weeks from Monday
            start = day - timedelta(days=day.weekday())
            return start, start + timedelta(days=7)
        months = {"month": 1, "quarter": 3, "year": 12}[granularity]
        first = ((day.month - 1) // months) * months + 1
        start = date(day.year, first, 1)
        end_month = first + months
        return start, date(day.year + (end_month > 12), (end_month - 1) % 12 + 1, 1)

    @staticmethod
    def _period_label(start: date, granularity: str) -> str:
        """Odoo 17's READ_GROUP_DISPLAY_FORMAT in en_US."""
        if granularity == "day":
            return start.strftime("%d %b %Y")
        if granularity == "week":
            year, week, _ = start.isocalendar()
            return f"W{week} {year}"
        if granularity == "month":
            return start.strftime("%B %Y")
        if granularity == "quarter":
            return f"Q{(start.month - 1) // 3 + 1} {start.year}"
        return str(start.year)

    def _group_sort_key(self, m: Model, key: tuple[str, str | None] | None, value: Any) -> tuple[int, Any]:
        """Postgres order: NULLS LAST ascending; a many2one by its model's order; a date by its start."""
        if value is None or value is False:
            return (1, 0)
        if key is not None:
            name, granularity = key
            f = m.fields[name]
            if granularity:
                return (0, value[0])
            if f.type == "many2one":
                target = self.models[f.relation]  # type: ignore[index]
                row = target.rows[value]
                return (
                    0,
                    tuple(
                        _Desc(self._sort_key(target, row, n)) if desc else self._sort_key(target, row, n)
                        for n, desc in self._order(target, target.order)
                    ),
                )
        return (0, value)

    @staticmethod
    def _aggregate(m: Model, rows: list[dict[str, Any]], fname: str, func: str) -> Any:
        """One SQL aggregate over the group's rows (None for SQL NULL)."""
        if fname == "__count":
            return len(rows)
        f = m.fields[fname]
        values = [r.get(fname) for r in rows]
        present = [v for v in values if v is not None and v != "" and (v is not False or f.type == "boolean")]
        if func == "count":
            return len(present)
        if func == "count_distinct":
            return len({json.dumps(v) for v in present})
        if func == "array_agg":
            return [False if v is None else v for v in values]
        if not present:
            return None
        if func == "bool_and":
            return all(present)
        if func == "bool_or":
            return any(present)
        if func in ("min", "max"):
            return (min if func == "min" else max)(present)
        if f.type not in NUMERIC:
            raise ValueError(f"Cannot aggregate {fname!r} ({f.type}) with {func!r}")
        # numeric columns sum exactly (Postgres numeric); Odoo hands the result back as a float
        total = sum((Decimal(repr(v)) for v in present), Decimal(0))
        if func == "avg":
            return float(total / len(present))
        return int(total) if f.type == "integer" else float(total)

    def _render(self, m: Model, row: dict[str, Any], name: str) -> Any:
        f = m.fields[name]
        if name == "display_name":
            return m.rec_name(row)
        value = row.get(name)
        if f.type == "many2one":
            if not value:
                return False
            target = self.models[f.relation]  # type: ignore[index]
            return [value, target.rec_name(target.rows[value])]
        if f.type in ("one2many", "many2many"):
            return list(value or [])
        if value is None or value == "":
            return 0 if f.type in ("integer",) else (0.0 if f.type in ("float", "monetary") else False)
        return value

    # -- search: domains and order ------------------------------------------------------------
    def _search(self, m: Model, domain: Any, order: str | None, *, scoped: bool = False) -> list[int]:
        if not isinstance(domain, list):
            raise ValueError(f"Invalid domain {domain!r}")
        self._validate(m, domain)
        scope = self.search_scope.get(m.name) if scoped else None
        ids = [i for i, row in m.rows.items() if self._matches(m, row, domain) and (scope is None or scope(row))]
        for name, desc in reversed(self._order(m, order or m.order)):
            ids.sort(key=lambda i, n=name: self._sort_key(m, m.rows[i], n), reverse=desc)
        return ids

    def _order(self, m: Model, order: str) -> list[tuple[str, bool]]:
        out = []
        for part in order.split(","):
            words = part.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
                raise ValueError(f'Invalid "order" specified ({order}).')
            if words[0] not in m.fields or not m.fields[words[0]].store:
                raise ValueError(f'Invalid "order" specified ({order}): {words[0]} is not a stored field of {m.name}')
            out.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
        return out

    @staticmethod
    def _sort_key(m: Model, row: dict[str, Any], name: str) -> tuple[int, Any]:
        value = row.get("id") if name == "id" else row.get(name)
        return (1, 0) if value in (None, False) else (0, value)  # NULLS LAST, as Postgres sorts ascending

    def _validate(self, m: Model, domain: list[Any]) -> None:
        arity = 0
        for el in reversed(domain):
            if el in ("&", "|"):
                arity -= 1
            elif el == "!":
                pass
            elif isinstance(el, (list, tuple)) and len(el) == 3:
                self._leaf_field(m, el)
                arity += 1
            else:
                raise ValueError(f"Invalid leaf {el!r}")
            if arity < 1:
                raise ValueError(f"Invalid domain {domain!r}: an operator without its operands")

    def _leaf_field(self, m: Model, leaf: Any) -> tuple[Model, Field, list[str]]:
        path, op, _ = leaf
        if list(leaf) in ([1, "=", 1], [0, "=", 1]):
            return m, Field("integer", "constant"), []
        if op not in (
            "=",
            "!=",
            "<>",
            "<",
            "<=",
            ">",
            ">=",
            "in",
            "not in",
            "like",
            "ilike",
            "not like",
            "not ilike",
            "=like",
            "=ilike",
        ):
            raise ValueError(f"Invalid leaf {tuple(leaf)!r}")
        names = str(path).split(".")
        model = m
        for i, name in enumerate(names):
            if name not in model.fields:
                raise ValueError(f"Invalid field {model.name}.{name} in leaf {tuple(leaf)!r}")
            f = model.fields[name]
            if i < len(names) - 1:
                if f.type != "many2one":
                    raise ValueError(f"Invalid field {model.name}.{name} in leaf {tuple(leaf)!r}: not a many2one")
                model = self.models[f.relation]  # type: ignore[index]
        return model, f, names

    def _matches(self, m: Model, row: dict[str, Any], domain: list[Any]) -> bool:
        stack: list[bool] = []
        for el in reversed(domain):
            if el == "&":
                a, b = stack.pop(), stack.pop()
                stack.append(a and b)
            elif el == "|":
                a, b = stack.pop(), stack.pop()
                stack.append(a or b)
            elif el == "!":
                stack.append(not stack.pop())
            else:
                stack.append(self._leaf(m, row, el))
        return all(stack)

    def _leaf(self, m: Model, row: dict[str, Any], leaf: Any) -> bool:
        if list(leaf) == [1, "=", 1]:
            return True
        if list(leaf) == [0, "=", 1]:
            return False
        _, op, value = leaf
        _, f, names = self._leaf_field(m, leaf)
        model, current = m, row
        for name in names[:-1]:
            ref = current.get(name)
            if not ref:
                current = {}
                break
            model = self.models[model.fields[name].relation]  # type: ignore[index]
            current = model.rows[ref]
        raw = current.get(names[-1]) if names[-1] != "id" else current.get("id")
        op = "!=" if op == "<>" else op
        if f.type in ("one2many", "many2many"):
            members = list(raw or [])
            wanted = value if isinstance(value, list) else [value]
            if op in ("=", "in"):
                return (not members) if value is False else any(x in members for x in wanted)
            if op in ("!=", "not in"):
                return bool(members) if value is False else not any(x in members for x in wanted)
            raise ValueError(f"Invalid leaf {tuple(leaf)!r} on a {f.type}")
        if (
            f.type == "many2one"
            and raw
            and (isinstance(value, str) or (isinstance(value, list) and any(isinstance(v, str) for v in value)))
        ):
            target = self.models[f.relation]  # type: ignore[index]
            raw = target.rec_name(target.rows[raw])
        empty = raw in (None, False, "")
        if op == "=":
            return empty if value is False else raw == value
        if op == "!=":
            return not empty if value is False else (empty or raw != value)
        if op == "in":
            return (empty and False in value) or (not empty and raw in value)
        if op == "not in":
            return empty or raw not in value
        if op in ("<", "<=", ">", ">="):
            if empty or value is False:
                return False
            return {"<": raw < value, "<=": raw <= value, ">": raw > value, ">=": raw >= value}[op]
        text = "" if empty else str(raw)
        if op in ("like", "ilike", "not like", "not ilike"):
            hit = (str(value).lower() in text.lower()) if "ilike" in op else (str(value) in text)
            return (not empty and hit) if not op.startswith("not") else (empty or not hit)
        pattern = str(value).replace("%", "*").replace("_", "?")
        return not empty and (
            fnmatch.fnmatch(text.lower(), pattern.lower()) if op == "=ilike" else fnmatch.fnmatchcase(text, pattern)
        )

    # -- the MCP module -------------------------------------------------------------------------
    def module_allows(self, model: str, method: str) -> bool:
        ops = self.mcp_models.get(model)
        if ops is None:
            return False
        op = (
            "read" if method in READ_METHODS else {"write": "write", "create": "create", "unlink": "unlink"}.get(method)
        )
        return bool(op and ops.get(op))


class _Desc:
    """A sort key compared in reverse (a descending term inside an ascending sort)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        return other.value < self.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value

    __hash__ = None  # type: ignore[assignment]


def _normalize(domain: list[Any]) -> list[Any]:
    """odoo.osv.expression.normalize_domain: the implicit ANDs made explicit."""
    if not domain:
        return [[1, "=", 1]]
    result: list[Any] = []
    expected = 1
    for token in domain:
        if expected == 0:
            result[0:0] = ["&"]
            expected = 1
        if isinstance(token, (list, tuple)):
            expected -= 1
            token = list(token)
        else:
            expected += {"!": 1, "&": 2, "|": 2}.get(token, 0) - 1
        result.append(token)
    return result


def _and(domains: list[list[Any]]) -> list[Any]:
    """odoo.osv.expression.AND: the domains combined, empty ones left out."""
    parts = [_normalize(d) for d in domains if d]
    return ["&"] * (len(parts) - 1) + [t for part in parts for t in part] if parts else [[1, "=", 1]]


def _fault(exc: BaseException) -> xmlrpc.client.Fault:
    """An exception as Odoo 17's /xmlrpc/2 reports it (odoo/service/wsgi_server.py)."""
    if isinstance(exc, xmlrpc.client.Fault):
        return exc
    if isinstance(exc, UserError):
        return xmlrpc.client.Fault(2, str(exc))
    if isinstance(exc, AccessDenied):
        return xmlrpc.client.Fault(3, str(exc))
    if isinstance(exc, AccessError):
        return xmlrpc.client.Fault(4, str(exc))
    return xmlrpc.client.Fault(1, "".join(traceback.format_exception(exc)))


class _Dispatcher(SimpleXMLRPCDispatcher):
    """Odoo's dispatch: every exception becomes a fault with Odoo's codes."""

    def __init__(
        self, functions: dict[str, Callable[..., Any]], wrap: Callable[[BaseException], xmlrpc.client.Fault]
    ) -> None:
        super().__init__(allow_none=False, encoding="utf-8", use_builtin_types=False)
        self.functions = dict(functions)
        self.wrap = wrap

    def _dispatch(self, method: str, params: Any) -> Any:
        if method not in self.functions:
            raise xmlrpc.client.Fault(1, f"Traceback (most recent call last):\nKeyError: {method!r}\n")
        try:
            return self.functions[method](*params)
        except Exception as exc:  # noqa: BLE001
            raise self.wrap(exc) from None


class _Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = (
        "/xmlrpc/2/common",
        "/xmlrpc/2/object",
        "/xmlrpc/db",
        "/xmlrpc/2/db",
        "/mcp/xmlrpc/common",
        "/mcp/xmlrpc/object",
        "/mcp/xmlrpc/db",
    )

    def is_rpc_path_valid(self) -> bool:
        return self.path in self.server.dispatchers  # type: ignore[attr-defined]

    def do_GET(self) -> None:  # noqa: N802
        status, body = self.server.standin.rest(self.path, self.headers)  # type: ignore[attr-defined]
        send(self, status, {"Content-Type": "application/json"}, json.dumps(body).encode())

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingMixIn, MultiPathXMLRPCServer):
    daemon_threads = True
    allow_reuse_address = True


class OdooStandin(LocalServer):
    """The database served over HTTP on 127.0.0.1: ``with OdooStandin(db) as odoo: odoo.url``."""

    def __init__(self, db: Database, *, module: bool = False) -> None:
        self.db = db
        self.module = module
        server = _Server(("127.0.0.1", 0), requestHandler=_Handler, logRequests=False, allow_none=False)
        server.standin = self  # type: ignore[attr-defined]
        common = {
            "version": lambda: VERSION,
            "authenticate": db.authenticate,
            "login": lambda d, login, pw: db.authenticate(d, login, pw),
        }
        dbs = {"list": lambda: [db.name], "server_version": lambda: VERSION["server_version"]}
        server.add_dispatcher("/xmlrpc/2/common", _Dispatcher(common, _fault))
        server.add_dispatcher("/xmlrpc/2/object", _Dispatcher({"execute_kw": self._object("/xmlrpc/2/object")}, _fault))
        server.add_dispatcher("/xmlrpc/db", _Dispatcher(dbs, _fault))
        server.add_dispatcher("/xmlrpc/2/db", _Dispatcher(dbs, _fault))
        if module:
            server.add_dispatcher(
                "/mcp/xmlrpc/common", _Dispatcher(common, self._module_fault("MCPCommonController Error"))
            )
            server.add_dispatcher("/mcp/xmlrpc/db", _Dispatcher(dbs, self._module_fault("MCPDatabaseController Error")))
            server.add_dispatcher(
                "/mcp/xmlrpc/object",
                _Dispatcher(
                    {"execute_kw": self._module_object},
                    self._module_fault("Internal Server Error in MCPObjectController"),
                ),
            )
        super().__init__(server, "odoo-standin")

    def _object(self, path: str) -> Callable[..., Any]:
        def execute_kw(
            db: str,
            uid: int,
            password: str,
            model: str,
            method: str,
            args: list[Any] | None = None,
            kwargs: dict[str, Any] | None = None,
        ) -> Any:
            self.db.calls.append((path, model, method, list(args or []), dict(kwargs or {})))
            return self.db.execute_kw(db, uid, password, model, method, args, kwargs)

        return execute_kw

    def _module_object(self, db: str, uid: int, password: str, model: str, method: str, *rest: Any) -> Any:
        if not self.db.module_allows(model, method):
            raise xmlrpc.client.Fault(403, f"Access denied by MCP for model '{model}' method '{method}'.")
        return self._object("/mcp/xmlrpc/object")(db, uid, password, model, method, *rest)

    @staticmethod
    def _module_fault(prefix: str) -> Callable[[BaseException], xmlrpc.client.Fault]:
        def wrap(exc: BaseException) -> xmlrpc.client.Fault:
            if isinstance(exc, xmlrpc.client.Fault):
                return exc
            return xmlrpc.client.Fault(500, f"{prefix}: {exc}")

        return wrap

    # -- the module's REST routes ---------------------------------------------------------------
    def rest(self, path: str, headers: Any) -> tuple[int, dict[str, Any]]:
        def error(status: int, message: str) -> tuple[int, dict[str, Any]]:
            return status, {"success": False, "error": {"message": message, "code": f"E{status}"}}

        if not self.module or not path.startswith("/mcp/"):
            return 404, {"error": "Not Found"}
        if path == "/mcp/health":
            return 200, {"success": True, "data": {"status": "ok", "mcp_server_version": "17.0.1.0.0"}}
        user = self.db.user_for_key(headers.get("X-API-Key"))
        if user is None:
            return error(401, "Invalid or missing API key.")
        if path == "/mcp/auth/validate":
            return 200, {"success": True, "data": {"valid": True, "user_id": user.uid}}
        if path == "/mcp/models":
            models = [
                {"model": name, "name": self.db.models[name].description if name in self.db.models else name}
                for name in sorted(self.db.mcp_models)
            ]
            return 200, {"success": True, "data": {"models": models}}
        parts = path.split("/")
        if len(parts) == 5 and parts[2] == "models" and parts[4] == "access":
            model = parts[3]
            if model not in self.db.models:
                return error(404, f"Model '{model}' not found in Odoo instance.")
            if model not in self.db.mcp_models:
                return error(403, f"Model '{model}' is not enabled for MCP access.")
            ops = {k: bool(self.db.mcp_models[model].get(k)) for k in ("read", "write", "create", "unlink")}
            return 200, {"success": True, "data": {"model": model, "enabled": True, "operations": ops}}
        return error(404, "Not Found")
