"""Table API (``/api/now/[v1|v2/]table``), Aggregate API (``/api/now/stats``) and TinyURL."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit

from .render import RenderOptions, Renderer, parse_bool, parse_display
from .schema import Table
from .store import quote
from .wire import Request, Response, SnError, json_response, not_found

if TYPE_CHECKING:
    from .app import Simulator

AUTH_PARAMS = frozenset({"x-sn-apikey", "api_key"})


@dataclass
class ListParams:
    query: str
    filters: list[tuple[str, str]]
    fields: list[str] | None
    limit: int
    offset: int
    display: str
    exclude_link: bool
    no_count: bool
    suppress_link: bool


def _int(value: str | None, default: int) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    return number if number >= 0 else default


def list_params(req: Request, default_limit: int = 10000) -> ListParams:
    fields = req.param("sysparm_fields")
    return ListParams(
        query=req.param("sysparm_query", "") or "",
        filters=[(k, v) for k, v in req.query if not k.startswith("sysparm_") and k.lower() not in AUTH_PARAMS],
        fields=[f for f in fields.split(",") if f.strip()] if fields else None,
        limit=_int(req.param("sysparm_limit"), default_limit) or default_limit,
        offset=_int(req.param("sysparm_offset"), 0),
        display=parse_display(req.param("sysparm_display_value")),
        exclude_link=parse_bool(req.param("sysparm_exclude_reference_link")),
        no_count=parse_bool(req.param("sysparm_no_count")),
        suppress_link=parse_bool(req.param("sysparm_suppress_pagination_header")),
    )


def renderer(app: Simulator, req: Request, display: str, exclude: bool, fields: list[str] | None) -> Renderer:
    opts = RenderOptions(display, exclude, fields, req.base_url, app.instance.user_tz(req.user))
    return Renderer(app.store, app.instance.schema, opts)


def write_renderer(app: Simulator, req: Request) -> Renderer:
    fields = req.param("sysparm_fields")
    return renderer(app, req, parse_display(req.param("sysparm_display_value")),
                    parse_bool(req.param("sysparm_exclude_reference_link")),
                    [f for f in fields.split(",") if f.strip()] if fields else None)


def link_header(req: Request, limit: int, offset: int, total: int) -> str:
    base = [(k, v) for k, v in req.query if k not in ("sysparm_offset", "sysparm_limit")]

    def url(off: int) -> str:
        query = urlencode([*base, ("sysparm_limit", str(limit)), ("sysparm_offset", str(off))], safe=",^=@")
        return f"<{req.base_url}{req.path}?{query}>"

    links = [f'{url(0)};rel="first"']
    if offset > 0:
        links.append(f'{url(max(offset - limit, 0))};rel="prev"')
    if offset + limit < total:
        links.append(f'{url(offset + limit)};rel="next"')
    links.append(f'{url(max((total - 1) // limit, 0) * limit)};rel="last"')
    return ",".join(links)


def list_records(app: Simulator, req: Request, table: Table, default_limit: int = 10000,
                 empty_is_404: bool = False) -> Response:
    params = list_params(req, default_limit)
    rows, total = app.instance.query(req.user, table, params.query, params.filters, params.limit, params.offset,
                                     count=not params.no_count)
    if empty_is_404 and not rows:
        raise not_found()
    body = renderer(app, req, params.display, params.exclude_link, params.fields).records(table, rows)
    headers = []
    if total is not None:
        headers.append(("X-Total-Count", str(total)))
        if not params.suppress_link and total > 0:
            headers.append(("Link", link_header(req, params.limit, params.offset, total)))
    return json_response(200, {"result": body}, headers)


def _payload(req: Request) -> dict:
    body = req.json()
    if isinstance(body, list):
        body = body[0] if body else {}
    if not isinstance(body, dict):
        raise SnError(400, "Exception while reading request", "The payload is not valid JSON.")
    return body


def _write_response(app: Simulator, req: Request, table: Table, row: dict, status: int,
                    headers: list[tuple[str, str]] | None = None) -> Response:
    if parse_bool(req.header("X-no-response-body")):
        return Response(status, b"", headers or [])
    return json_response(status, {"result": write_renderer(app, req).record(table, row)}, headers)


def handle_table(app: Simulator, req: Request, version: str | None, name: str, sys_id: str | None) -> Response:
    if req.param("sysparm_tiny"):
        req = expand_tiny(app, req)
    table = app.instance.table(name)
    method = req.method
    if method == "GET":
        if sys_id is None:
            return list_records(app, req, table, empty_is_404=(version == "v1"))
        row = app.instance.require(table, sys_id)
        params = list_params(req)
        rendered = renderer(app, req, params.display, params.exclude_link, params.fields).record(table, row)
        return json_response(200, {"result": rendered})
    if method == "POST" and sys_id is None:
        row = app.instance.insert(req.user, table, _payload(req), parse_bool(req.param("sysparm_input_display_value")))
        location = f"{req.base_url}/api/now/table/{name}/{row['sys_id']}"
        return _write_response(app, req, table, row, 201, [("Location", location)])
    if method in ("PUT", "PATCH") and sys_id is not None:
        row = app.instance.update(req.user, table, sys_id, _payload(req),
                                  parse_bool(req.param("sysparm_input_display_value")))
        return _write_response(app, req, table, row, 200)
    if method == "DELETE" and sys_id is not None:
        app.instance.delete(req.user, table, sys_id)
        return Response(204, b"", [])
    raise SnError(405, "Method not Supported", f"HTTP method {method} is not supported for this resource")


def handle_stats(app: Simulator, req: Request, name: str) -> Response:
    table = app.instance.table(name)
    params = list_params(req)
    compiled = app.instance.compile(req.user, table, params.query, params.filters)
    want_count = parse_bool(req.param("sysparm_count"))
    group_by = [g for g in (req.param("sysparm_group_by") or "").split(",") if g in table.fields]
    if not group_by:
        stats = {"count": str(app.store.count(table, compiled.where, compiled.params))} if want_count else {}
        return json_response(200, {"result": {"stats": stats}})
    cols = ", ".join(f"t.{quote(g)}" for g in group_by)
    rows = _grouped(app, table, compiled, cols)
    result = [{"stats": {"count": str(row["_n"])} if want_count else {},
               "groupby_fields": [{"field": g, "value": row[g]} for g in group_by]} for row in rows]
    return json_response(200, {"result": result})


def _grouped(app: Simulator, table: Table, compiled, cols: str) -> list[dict]:
    cls_sql, cls_params = app.store.class_filter(table)
    sql = (f"SELECT {cols}, COUNT(*) AS _n FROM {quote(table.storage)} t WHERE ({cls_sql}) AND "
           f"({compiled.where}) GROUP BY {cols} ORDER BY {cols}")
    return [dict(row) for row in app.store.execute(sql, [*cls_params, *compiled.params])]


def handle_tinyurl(app: Simulator, req: Request) -> Response:
    if req.method != "POST":
        raise SnError(405, "Method not Supported", None)
    body = req.json()
    url = body.get("url") if isinstance(body, dict) else None
    if not url:
        raise SnError(400, "Bad Request", "A url is required")
    parts = urlsplit(url)
    tiny_id = secrets.token_hex(16)
    app.store.put_tiny(tiny_id, parts.query)
    table = parts.path.rstrip("/").split("/")[-1] or "sys"
    return json_response(200, {"result": f"{table}_list.do?sysparm_tiny={tiny_id}"})


def expand_tiny(app: Simulator, req: Request) -> Request:
    stored = app.store.tiny(req.param("sysparm_tiny") or "")
    if stored is None:
        raise SnError(400, "Invalid TinyURL", "The sysparm_tiny value is unknown or expired")
    req.query = parse_qsl(stored, keep_blank_values=True)
    return req
