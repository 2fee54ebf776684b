# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attachments of changes and incidents on a ServiceNow instance (Attachment API). FOR INTERNAL COLLECTION USE ONLY.

An upload is idempotent by sha256 (the instance's ``hash``): a file of the same name and content is not
sent again, an older content under the same name is replaced, and a POST that may have landed is looked
for before it is sent again.
"""

from __future__ import annotations

import typing as t

from ..._http import Response
from .._base import attachment_file
from . import mapping
from . import query
from .client import ServiceNowClient
from .reads import RecordReader

Record = dict[str, t.Any]
ATTACHMENT_API = "/api/now/attachment"
_ATTACHMENT_FIELDS = "sys_id,file_name,size_bytes,hash,content_type,sys_created_on,download_link"


def attachments(client: ServiceNowClient, reads: RecordReader, kind: str, record: Record) -> list[Record]:
    """``{id, name, size, sha256, content_type, created, url}`` of the record's attachments, oldest first."""
    record_id = reads.id_of(kind, record)
    answer = client.http.request("GET", ATTACHMENT_API, params={
        "sysparm_query": f"table_name={mapping.TABLES[kind]}^table_sys_id={record_id}^ORDERBYsys_created_on",
        "sysparm_fields": _ATTACHMENT_FIELDS, "sysparm_limit": 1000},
        what=f"list attachments of {record.get('number')}")
    return [_attachment(row) for row in answer.body["result"]]


def add_attachment(client: ServiceNowClient, reads: RecordReader, kind: str, record: Record, path: str,
                   name: str | None, content_type: str | None, check_mode: bool) -> tuple[bool, Record]:
    """Upload unless a file of this name with the same sha256 is attached; an older version is replaced."""
    file = attachment_file(path, name, content_type)
    name = file.name
    existing = attachments(client, reads, kind, record)
    attached = file.already_attached(existing)
    if attached or check_mode:
        return attached is None, attached or file.planned()
    same = [item for item in existing if item["name"] == name]

    def recover() -> Response | None:
        landed = file.already_attached(attachments(client, reads, kind, record))
        return Response(201, {}, {"result": {"sys_id": landed["id"]}}, "") if landed else None

    answer = client.http.request(
        "POST", f"{ATTACHMENT_API}/file", params={"table_name": mapping.TABLES[kind],
                                                  "table_sys_id": reads.id_of(kind, record), "file_name": name},
        data=file.content, headers={"Content-Type": file.content_type}, idempotent=False, recover=recover,
        what=f"attach {name} to {record.get('number')}")
    for item in same:
        client.http.request("DELETE", f"{ATTACHMENT_API}/{item['id']}",
                            what=f"replace {name} on {record.get('number')}")
    new_id = answer.body["result"]["sys_id"]
    added = [item for item in attachments(client, reads, kind, record) if item["id"] == new_id]
    return True, added[0] if added else dict(file.planned(), id=new_id)


def _attachment(row: t.Mapping[str, t.Any]) -> Record:
    return {"id": row["sys_id"], "name": row.get("file_name"), "size": int(row.get("size_bytes") or 0),
            "sha256": row.get("hash") or None, "content_type": row.get("content_type") or None,
            "created": query.from_sn_date(row.get("sys_created_on")), "url": row.get("download_link") or None}
