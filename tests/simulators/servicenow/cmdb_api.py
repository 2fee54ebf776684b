"""CMDB Instance API, ``/api/now/[v1/]cmdb/instance/{class}`` (servicenow-api.md §6.9, vendor docs where silent).

- ``GET /{class}``: ``[{sys_id, name}]`` of the class and the classes extending it (``sysparm_query``,
  ``sysparm_limit`` default 10000, ``sysparm_offset``).
- ``GET /{class}/{sys_id}``: ``{attributes, outbound_relations, inbound_relations}``. Attributes are every
  field of the CI's class as raw strings, references as ``{display_value, link, value}`` (empty references
  as ``""``). A relation is ``{sys_id, type, target}``: outbound ones are the ``cmdb_rel_ci`` rows whose
  parent is the CI (target = child), inbound ones those whose child is the CI (target = parent).
- ``POST /{class}`` creates a CI from ``{attributes, source, outbound_relations, inbound_relations}``;
  ``PUT``/``PATCH /{class}/{sys_id}`` update the attributes only (PUT is not destructive either).
  ``source`` is required and becomes ``discovery_source``; ``first_discovered``/``last_discovered`` are
  stamped. Like the identification engine, a POST whose ``name`` matches a CI of the class updates that
  CI instead of creating a second one.
- ``POST /{class}/{sys_id}/relation`` adds relations (an identical parent/child/type relation is not
  added twice) and answers the CI as GET does; ``DELETE .../relation/{rel_sys_id}`` removes one (204).
- Every call needs the itil role (or admin); an unknown or non-CMDB class answers 400 "Requested URI
  does not represent any resource", an unknown CI or relation 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .instance import stringify
from .render import RenderOptions, Renderer
from .schema import JOURNAL, Table
from .table_api import list_params
from .wire import Request, Response, SnError, acl_denied, bad_path, json_response, not_found

if TYPE_CHECKING:
    from .app import Simulator

DIRECTIONS = (("outbound_relations", "parent", "child"), ("inbound_relations", "child", "parent"))
VERBS = {"GET": "Read", "POST": "Insert", "PUT": "Update", "PATCH": "Update", "DELETE": "Delete"}


def handle(app: Simulator, req: Request, args: list[str]) -> Response:
    if not args:
        raise bad_path()
    table = _ci_class(app, args[0])
    if not req.user or not req.user.has_role("itil"):
        raise acl_denied(VERBS.get(req.method, "Read"))
    rest, method = args[1:], req.method
    if not rest and method == "GET":
        return _list(app, req, table)
    if not rest and method == "POST":
        return _create(app, req, table)
    if len(rest) == 1 and method == "GET":
        return _instance(app, req, table, _ci(app, table, rest[0]))
    if len(rest) == 1 and method in ("PUT", "PATCH"):
        return _update(app, req, table, rest[0])
    if len(rest) == 2 and rest[1] == "relation" and method == "POST":
        return _add_relations(app, req, table, rest[0])
    if len(rest) == 3 and rest[1] == "relation" and method == "DELETE":
        return _delete_relation(app, req, table, rest[0], rest[2])
    if len(rest) <= 3:
        raise SnError(405, "Method not Supported", f"HTTP method {method} is not supported for this resource")
    raise bad_path()


def _ci_class(app: Simulator, name: str) -> Table:
    schema = app.instance.schema
    if name not in schema or not schema.is_instance_of(name, "cmdb_ci"):
        raise bad_path()
    return schema[name]


def _ci(app: Simulator, table: Table, sys_id: str) -> dict:
    row = app.instance.get(table, sys_id)
    if row is None:
        raise not_found()
    return row


# -- rendering --------------------------------------------------------------------------------

def _reference(req: Request, display: str, link_path: str, value: str) -> dict[str, str]:
    return {"display_value": display, "link": f"{req.base_url}{link_path}/{value}", "value": value}


def render(app: Simulator, req: Request, table: Table, row: dict) -> dict:
    """The CI as GET answers it: attributes plus both relation lists."""
    schema = app.instance.schema
    concrete = schema[row.get("sys_class_name") or table.name]
    names = Renderer(app.store, schema, RenderOptions("all", False, None, req.base_url, app.instance.user_tz(req.user)))
    attributes: dict[str, object] = {}
    for name, fdef in concrete.fields.items():
        raw = "" if fdef.type == JOURNAL else (row.get(name) or "")
        if fdef.is_reference and raw and fdef.reference in schema:
            attributes[name] = _reference(req, names.reference_display(fdef.reference, raw),
                                          f"/api/now/table/{fdef.reference}", raw)
        else:
            attributes[name] = raw
    result: dict[str, object] = {"attributes": attributes}
    relations, cis, types = schema["cmdb_rel_ci"], schema["cmdb_ci"], schema["cmdb_rel_type"]
    for key, own, other in DIRECTIONS:
        entries = []
        for rel in app.store.find(relations, **{own: row["sys_id"]}):
            target = app.store.get(cis, rel[other])
            rel_type = app.store.get(types, rel["type"])
            entries.append({
                "sys_id": rel["sys_id"],
                "type": _reference(req, rel_type["name"] if rel_type else "", "/api/now/table/cmdb_rel_type",
                                   rel["type"]),
                "target": _reference(req, target["name"] if target else "", "/api/now/cmdb/instance/cmdb_ci",
                                     rel[other]),
            })
        result[key] = entries
    return result


def _instance(app: Simulator, req: Request, table: Table, row: dict) -> Response:
    return json_response(200, {"result": render(app, req, table, row)})


def _list(app: Simulator, req: Request, table: Table) -> Response:
    params = list_params(req)
    rows, _total = app.instance.query(req.user, table, params.query, None, params.limit, params.offset, count=False)
    return json_response(200, {"result": [{"sys_id": row["sys_id"], "name": row["name"]} for row in rows]})


# -- writes -----------------------------------------------------------------------------------

def _body(req: Request) -> tuple[dict, str]:
    body = req.json()
    if not isinstance(body, dict):
        raise SnError(400, "Exception while reading request", "The payload is not valid JSON.")
    source = stringify(body.get("source")).strip()
    if not source:
        raise SnError(400, "Bad Request", "source is a required field of the request body")
    attributes = body.get("attributes", {})
    if not isinstance(attributes, dict):
        raise SnError(400, "Bad Request", "attributes must be an object")
    return body, source


def _relation_specs(app: Simulator, body: dict) -> list[tuple[str, str, str]]:
    """Check every requested relation before anything is written: (direction key, type, target)."""
    schema = app.instance.schema
    specs = []
    for key, _own, _other in DIRECTIONS:
        items = body.get(key) or []
        if not isinstance(items, list):
            items = [items]
        for item in items:
            rel_type = stringify(item.get("type")) if isinstance(item, dict) else ""
            target = stringify(item.get("target")) if isinstance(item, dict) else ""
            if not rel_type or not target:
                raise SnError(400, "Bad Request", f"Each of {key} needs a type and a target")
            if app.store.get(schema["cmdb_rel_type"], rel_type) is None:
                raise SnError(400, "Bad Request", f"Relationship type {rel_type} does not exist")
            if app.store.get(schema["cmdb_ci"], target) is None:
                raise SnError(400, "Bad Request", f"Target CI {target} does not exist")
            specs.append((key, rel_type, target))
    return specs


def _write_relations(app: Simulator, req: Request, ci_id: str, specs: list[tuple[str, str, str]]) -> None:
    relations = app.instance.schema["cmdb_rel_ci"]
    for key, rel_type, target in specs:
        parent, child = (ci_id, target) if key == "outbound_relations" else (target, ci_id)
        if not app.store.find(relations, parent=parent, child=child, type=rel_type):
            app.instance.insert(req.user, relations, {"parent": parent, "child": child, "type": rel_type})


def _discovered(app: Simulator, source: str, first: bool) -> dict[str, str]:
    now = app.clock.now_str()
    stamps = {"discovery_source": source, "last_discovered": now}
    if first:
        stamps["first_discovered"] = now
    return stamps


def _create(app: Simulator, req: Request, table: Table) -> Response:
    body, source = _body(req)
    specs = _relation_specs(app, body)
    attributes = {k: v for k, v in body.get("attributes", {}).items() if k not in ("sys_id", "sys_class_name")}
    with app.store.transaction():
        name = stringify(attributes.get("name"))
        existing = app.store.find(table, name=name) if name else []
        if existing:
            row = app.instance.update(req.user, table, existing[0]["sys_id"],
                                      {**attributes, **_discovered(app, source, first=False)})
        else:
            row = app.instance.insert(req.user, table, {**attributes, **_discovered(app, source, first=True),
                                                        "sys_class_name": table.name})
        _write_relations(app, req, row["sys_id"], specs)
        row = app.instance.get(table, row["sys_id"]) or row
    return _instance(app, req, table, row)


def _update(app: Simulator, req: Request, table: Table, sys_id: str) -> Response:
    body, source = _body(req)
    _ci(app, table, sys_id)
    attributes = {k: v for k, v in body.get("attributes", {}).items() if k not in ("sys_id", "sys_class_name")}
    row = app.instance.update(req.user, table, sys_id, {**attributes, **_discovered(app, source, first=False)})
    return _instance(app, req, table, row)


def _add_relations(app: Simulator, req: Request, table: Table, sys_id: str) -> Response:
    body, source = _body(req)
    _ci(app, table, sys_id)
    specs = _relation_specs(app, body)
    with app.store.transaction():
        _write_relations(app, req, sys_id, specs)
        row = app.instance.update(req.user, table, sys_id, _discovered(app, source, first=False))
    return _instance(app, req, table, row)


def _delete_relation(app: Simulator, req: Request, table: Table, sys_id: str, rel_id: str) -> Response:
    _ci(app, table, sys_id)
    relations = app.instance.schema["cmdb_rel_ci"]
    rel = app.store.get(relations, rel_id)
    if rel is None or sys_id not in (rel["parent"], rel["child"]):
        raise not_found()
    app.instance.delete(req.user, relations, rel_id)
    return Response(204, b"", [])
