"""Change Management REST API, ``/api/sn_chg_rest/[v1/]change`` (servicenow-api.md §8).

Values are typed ``{"display_value", "value"}`` pairs (numbers as JSON numbers, booleans as JSON
booleans, date-times add ``display_value_internal``).  Choices made where the spec leaves it
open: creation answers 200 with ``{"result": {...record..., "__meta": {"ignoredFields": [...]}}}``
(an object, like GET); business-rule failures answer 400 with
``"Change Request record could not be updated. <reason>"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import rules, schedules
from .render import RenderOptions, Renderer
from .schema import BOOLEAN, DATETIME, Table
from .table_api import list_params
from .wire import Request, Response, SnError, bad_path, json_response, not_found

if TYPE_CHECKING:
    from .app import Simulator

TYPES = ("normal", "standard", "emergency")
STATE_LABELS = {"-5": "New", "-4": "Assess", "-3": "Authorize", "-2": "Scheduled", "-1": "Implement",
                "0": "Review", "3": "Closed", "4": "Canceled"}


def typed(app: Simulator, req: Request, table: Table, row: dict) -> dict:
    tz = app.instance.user_tz(req.user)
    renderer = Renderer(app.store, app.instance.schema, RenderOptions("all", True, None, req.base_url, tz))
    out: dict[str, object] = {}
    for name, fdef in table.fields.items():
        raw = row.get(name, "") or ""
        display = renderer.display_value(table, row, fdef)
        value: object = raw
        if fdef.is_numeric and raw:
            try:
                value = float(raw)
            except ValueError:
                value = raw
        elif fdef.type == BOOLEAN:
            value = raw == "true"
        entry: dict[str, object] = {"display_value": display, "value": value}
        if fdef.type == DATETIME:
            entry["display_value_internal"] = display
        out[name] = entry
    return out


def _fail(exc: SnError, verb: str = "updated") -> SnError:
    reason = exc.detail or exc.message
    return SnError(400, f"Change Request record could not be {verb}. {reason}", "")


def _payload(req: Request) -> dict:
    body = req.json()
    if not isinstance(body, dict):
        body = {}
    extra = {k: v for k, v in req.query if not k.startswith("sysparm_") and k not in ("order", "textSearch")}
    return {**extra, **body}


def _change(app: Simulator, sys_id: str, kind: str | None = None) -> dict:
    row = app.instance.get(app.instance.schema["change_request"], sys_id)
    if row is None or (kind and row["type"] != kind):
        raise not_found()
    return row


def handle(app: Simulator, req: Request, rest: list[str]) -> Response:
    if rest[:2] == ["standard", "template"]:
        return _listing(app, req, "std_change_record_producer", rest[2:])
    if rest[:1] == ["model"]:
        return _listing(app, req, "chg_model", rest[1:])
    kind = rest[0] if rest and rest[0] in TYPES else None
    if kind:
        rest = rest[1:]
    if kind == "standard" and len(rest) == 1 and req.method == "POST":
        return _create(app, req, "standard", template_id=rest[0])
    if not rest:
        if req.method == "GET":
            return _list(app, req, kind)
        if req.method == "POST" and kind != "standard":
            return _create(app, req, kind)
        raise bad_path()
    change_id, sub = rest[0], rest[1:]
    if not sub:
        return _record(app, req, change_id, kind)
    handlers = {"approvals": _approvals, "conflict": _conflict, "nextstates": _nextstates, "task": _tasks,
                "ci": _cis}
    if sub[0] not in handlers:
        raise bad_path()
    return handlers[sub[0]](app, req, _change(app, change_id, kind), sub[1:])


def _listing(app: Simulator, req: Request, table_name: str, rest: list[str]) -> Response:
    table = app.instance.schema[table_name]
    if rest:
        return json_response(200, {"result": typed(app, req, table, app.instance.require(table, rest[0]))})
    rows, total = app.instance.query(req.user, table, req.param("sysparm_query", "") or "")
    return json_response(200, {"result": [typed(app, req, table, r) for r in rows]},
                         [("X-Total-Count", str(total))])


def _list(app: Simulator, req: Request, kind: str | None) -> Response:
    table = app.instance.schema["change_request"]
    params = list_params(req, 500)
    query = params.query
    if kind:
        query = f"type={kind}^{query}" if query else f"type={kind}"
    if req.param("order"):
        query += f"^ORDERBY{req.param('order')}"
    if req.param("textSearch"):
        query += f"^123TEXTQUERY321={req.param('textSearch')}"
    filters = [(k, v) for k, v in params.filters if k not in ("order", "textSearch")]
    rows, total = app.instance.query(req.user, table, query, filters, params.limit, params.offset)
    return json_response(200, {"result": [typed(app, req, table, r) for r in rows]},
                         [("X-Total-Count", str(total))])


def _create(app: Simulator, req: Request, kind: str | None, template_id: str | None = None) -> Response:
    table = app.instance.schema["change_request"]
    payload = _payload(req)
    ignored = [k for k in payload if k not in table.fields]
    if template_id is not None:
        version = _template_version(app, template_id)
        for key in rules.TEMPLATE_LOCKED:
            if key in payload:
                ignored.append(key)
                payload.pop(key)
        payload["std_change_producer_version"] = version
    if kind:
        payload["type"] = kind
    try:
        row = app.instance.insert(req.user, table, payload)
    except SnError as exc:
        if exc.status == 403 and "ACL" not in (exc.detail or ""):
            raise _fail(exc, "created") from exc
        raise
    result = typed(app, req, table, row)
    result["__meta"] = {"ignoredFields": ignored}
    return json_response(200, {"result": result})


def _template_version(app: Simulator, template_id: str) -> str:
    schema = app.instance.schema
    producer = app.instance.get(schema["std_change_record_producer"], template_id)
    if producer is not None and producer["current_version"]:
        return producer["current_version"]
    if app.instance.get(schema["std_change_producer_version"], template_id) is not None:
        return template_id
    raise SnError(404, "No Record found", f"Standard change template {template_id} does not exist")


def _record(app: Simulator, req: Request, change_id: str, kind: str | None) -> Response:
    table = app.instance.schema["change_request"]
    row = _change(app, change_id, kind)
    if req.method == "GET":
        return json_response(200, {"result": typed(app, req, table, row)})
    if req.method == "PATCH":
        payload = _payload(req)
        ignored = [k for k in payload if k not in table.fields]
        try:
            row = app.instance.update(req.user, table, change_id, payload)
        except SnError as exc:
            if exc.status == 403 and "ACL" not in (exc.detail or ""):
                raise _fail(exc) from exc
            raise
        result = typed(app, req, table, row)
        result["__meta"] = {"ignoredFields": ignored}
        return json_response(200, {"result": result})
    if req.method == "DELETE":
        app.instance.delete(req.user, table, change_id)
        return Response(204, b"", [])
    raise bad_path()


def _approvals(app: Simulator, req: Request, change: dict, rest: list[str]) -> Response:
    approvals = app.instance.schema["sysapproval_approver"]
    if req.method == "GET":
        rows = app.store.find(approvals, sysapproval=change["sys_id"])
        return json_response(200, {"result": [typed(app, req, approvals, r) for r in rows]})
    if req.method != "PATCH":
        raise bad_path()
    body = req.json() if isinstance(req.json(), dict) else {}
    decision = str(body.get("state", "")).lower()
    if decision not in ("approved", "rejected"):
        raise SnError(400, "Invalid approval state", "state must be approved or rejected")
    if decision == "rejected" and not str(body.get("comments", "")).strip():
        raise SnError(400, "Comments are required when rejecting", "")
    pending = app.store.find(approvals, sysapproval=change["sys_id"], approver=req.user.sys_id, state="requested")
    if not pending:
        raise SnError(400, "User cannot approve this change request",
                      f"{req.user.user_name} has no pending approval on {change['number']}")
    update = {"state": decision}
    if body.get("comments"):
        update["comments"] = str(body["comments"])
    app.instance.update(req.user, approvals, pending[0]["sys_id"], update)
    table = app.instance.schema["change_request"]
    return json_response(200, {"result": typed(app, req, table, _change(app, change["sys_id"]))})


def _conflict(app: Simulator, req: Request, change: dict, rest: list[str]) -> Response:
    conflicts = app.instance.schema["conflict"]
    if req.method == "POST":
        schedules.detect(app.instance, req.user, change)
        worker = f"{change['sys_id'][:24]}c0f1c7ed"
        return json_response(200, {"result": worker})
    if req.method == "DELETE":
        for row in app.store.find(conflicts, change=change["sys_id"]):
            app.store.delete(conflicts, row["sys_id"])
        app.store.update(app.instance.schema["change_request"], change["sys_id"],
                         {"conflict_status": "Not Run"})
        return Response(204, b"", [])
    if req.method != "GET":
        raise bad_path()
    current = _change(app, change["sys_id"])
    rows = app.store.find(conflicts, change=change["sys_id"])
    result = {"status": current["conflict_status"] or "Not Run", "last_run": current["conflict_last_run"],
              "record_count": str(len(rows)), "job_status": "2" if current["conflict_last_run"] else "0",
              "conflicts": [typed(app, req, conflicts, r) for r in rows]}
    return json_response(200, {"result": result})


def _nextstates(app: Simulator, req: Request, change: dict, rest: list[str]) -> Response:
    model = rules.CHANGE_MODELS.get(change["type"], rules.CHANGE_MODELS["normal"])
    current = change["state"]
    transitions = []
    for target in sorted(model.get(current, set()), key=float):
        candidate = {**change, "state": target}
        try:
            rules.check_transition(app.instance, change, candidate)
            available = True
        except SnError:
            available = False
        automatic = change["type"] in ("normal", "emergency") and target in ("-3", "-2") and current != "-5"
        transitions.append({"from_state": current, "to_state": target, "transition_available": available,
                            "automatic_transition": automatic, "conditions": []})
    states = [t["to_state"] for t in transitions if t["transition_available"]]
    labels = {s: STATE_LABELS.get(s, s) for s in [current, *states]}
    return json_response(200, {"result": {"available_states": states, "state_label": labels,
                                          "state_transitions": [transitions]}})


def _tasks(app: Simulator, req: Request, change: dict, rest: list[str]) -> Response:
    tasks = app.instance.schema["change_task"]
    if not rest and req.method == "GET":
        rows = app.store.find(tasks, change_request=change["sys_id"])
        return json_response(200, {"result": [typed(app, req, tasks, r) for r in rows]})
    if not rest and req.method == "POST":
        row = app.instance.insert(req.user, tasks, {**_payload(req), "change_request": change["sys_id"]})
        return json_response(200, {"result": typed(app, req, tasks, row)})
    if len(rest) == 1:
        task = app.instance.require(tasks, rest[0])
        if task["change_request"] != change["sys_id"]:
            raise not_found()
        if req.method == "PATCH":
            row = app.instance.update(req.user, tasks, rest[0], _payload(req))
            return json_response(200, {"result": typed(app, req, tasks, row)})
        if req.method == "DELETE":
            app.instance.delete(req.user, tasks, rest[0])
            return Response(204, b"", [])
        if req.method == "GET":
            return json_response(200, {"result": typed(app, req, tasks, task)})
    raise bad_path()


def _cis(app: Simulator, req: Request, change: dict, rest: list[str]) -> Response:
    task_ci = app.instance.schema["task_ci"]
    if req.method == "GET":
        rows = app.store.find(task_ci, task=change["sys_id"])
        return json_response(200, {"result": [typed(app, req, task_ci, r) for r in rows]})
    if req.method != "POST":
        raise bad_path()
    body = req.json() if isinstance(req.json(), dict) else {}
    ids = body.get("cmdb_ci_sys_ids", "")
    ids = ids.split(",") if isinstance(ids, str) else list(ids)
    cmdb = app.instance.schema["cmdb_ci"]
    existing = {r["ci_item"] for r in app.store.find(task_ci, task=change["sys_id"])}
    for ci in filter(None, (i.strip() for i in ids)):
        app.instance.require(cmdb, ci)
        if ci not in existing:
            app.instance.insert(req.user, task_ci, {"task": change["sys_id"], "ci_item": ci})
    worker = f"{change['sys_id'][:24]}c1a550c1"
    return json_response(202, {"result": {
        "worker": {"sysId": worker, "link": f"{req.base_url}/api/sn_chg_rest/change/worker/{worker}"},
        "state": {"value": 3, "display_value": "Complete"}, "type": "ci_association",
        "messages": {"errorMessages": [], "infoMessages": [], "warningMessages": []}}})
