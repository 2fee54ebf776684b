"""Attachment API (servicenow-api.md §5): metadata in ``sys_attachment``, bytes in a blob table."""

from __future__ import annotations

import hashlib
import json
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING

from .render import parse_bool, parse_display
from .table_api import list_records, renderer
from .wire import Request, Response, SnError, json_response

if TYPE_CHECKING:
    from .app import Simulator


def handle(app: Simulator, req: Request, rest: list[str]) -> Response:
    table = app.instance.schema["sys_attachment"]
    if not rest:
        if req.method in ("GET", "HEAD"):
            return list_records(app, req, table, default_limit=1000)
    elif rest == ["file"] and req.method == "POST":
        return _upload(app, req, req.param("table_name"), req.param("table_sys_id"), req.param("file_name"),
                       req.header("Content-Type") or "", req.body)
    elif rest == ["upload"] and req.method == "POST":
        return _multipart(app, req)
    elif len(rest) == 1 and req.method in ("GET", "HEAD"):
        row = app.instance.require(table, rest[0])
        return json_response(200, {"result": _meta(app, req, row)})
    elif len(rest) == 1 and req.method == "DELETE":
        row = app.instance.require(table, rest[0])
        app.instance.check_write(req.user, app.instance.schema[row["table_name"]]
                                 if row["table_name"] in app.instance.schema else table, "Delete")
        app.instance.delete(req.user, table, rest[0], system=True)
        app.store.delete_blob(rest[0])
        return Response(204, b"", [])
    elif len(rest) == 2 and rest[1] == "file" and req.method in ("GET", "HEAD"):
        row = app.instance.require(table, rest[0])
        data = app.store.blob(rest[0]) or b""
        meta = renderer(app, req, "false", True, None).record(table, row)
        return Response(200, data, [("Content-Type", row["content_type"] or "application/octet-stream"),
                                    ("X-Attachment-Metadata", json.dumps(meta, separators=(",", ":")))])
    raise SnError(400, "Requested URI does not represent any resource", None)


def _meta(app: Simulator, req: Request, row: dict) -> dict:
    table = app.instance.schema["sys_attachment"]
    return renderer(app, req, parse_display(req.param("sysparm_display_value")), parse_bool(req.param("sysparm_exclude_reference_link")),
                    None).record(table, row)


def _upload(app: Simulator, req: Request, table_name: str | None, table_sys_id: str | None,
            file_name: str | None, content_type: str, data: bytes) -> Response:
    if not table_name or not table_sys_id or not file_name:
        raise SnError(400, "Failed to create the attachment. File part might be missing in the request.",
                      "table_name, table_sys_id and file_name are mandatory")
    if not content_type:
        raise SnError(400, "Content-Type header is mandatory", None)
    target_table = app.instance.table(table_name)
    app.instance.require(target_table, table_sys_id)
    app.instance.check_write(req.user, target_table, "Insert")
    table = app.instance.schema["sys_attachment"]
    with app.store.transaction():
        row = app.instance.insert(req.user, table, {
            "file_name": file_name, "table_name": table_name, "table_sys_id": table_sys_id,
            "content_type": content_type.split(";")[0].strip(), "size_bytes": str(len(data)),
            "size_compressed": str(len(data)), "hash": hashlib.sha256(data).hexdigest(),
            "state": "available", "encryption_context": req.param("encryption_context") or "",
        }, system=True)
        download = f"{req.base_url}/api/now/attachment/{row['sys_id']}/file"
        app.store.update(table, row["sys_id"], {"download_link": download})
        app.store.put_blob(row["sys_id"], data)
        row["download_link"] = download
    meta = _meta(app, req, row)
    meta["created_by_name"] = req.user.name
    meta["updated_by_name"] = req.user.name
    location = f"{req.base_url}/api/now/attachment/{row['sys_id']}"
    return json_response(201, {"result": meta}, [("Location", location)])


def _multipart(app: Simulator, req: Request) -> Response:
    content_type = req.header("Content-Type")
    if "boundary=" not in content_type:
        raise SnError(400, "Failed to create the attachment. File part might be missing in the request.", None)
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + req.body)
    fields: dict[str, str] = {}
    file_part = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_filename():
            file_part = part
        elif name:
            fields[name] = part.get_content() if part.get_content_maintype() == "text" else \
                part.get_payload(decode=True).decode("utf-8")
    if file_part is None:
        raise SnError(400, "Failed to create the attachment. File part might be missing in the request.", None)
    return _upload(app, req, fields.get("table_name"), fields.get("table_sys_id"), file_part.get_filename(),
                   file_part.get_content_type(), file_part.get_payload(decode=True) or b"")
