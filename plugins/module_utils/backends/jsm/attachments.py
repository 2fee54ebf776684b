# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attachments of changes and incidents on a Jira site (``/rest/api/2`` attachments). FOR INTERNAL COLLECTION USE ONLY.

Jira keeps no hash of an attachment, so the sha256 of each file this backend attached is kept in the issue
property ``opsgate.attachments``: ``{attachment id: sha256}`` (an id names one immutable content; entries of
attachments no longer on the issue are dropped at each write, which keeps the property well under Jira's 32 KB
for a property value up to a few hundred attachments). An attachment without an entry (attached in Jira's
UI, or when the property write after an upload failed) has ``sha256`` None and counts as a different content.

An upload is idempotent by name and sha256, as on the other backends: a file of the same name whose recorded
sha256 matches is not sent again; a new content under the same name is uploaded and the older same-named
attachments then deleted. The upload is a POST: after a failure that may have landed, the issue is read again
and a new attachment of the same name and size (one that was not there before) is taken as the upload's own.
The issue read lists the attachments (field ``attachment``) and the property in one request.
"""

from __future__ import annotations

import typing as t

from ..._http import Response
from .._base import attachment_file
from .client import JsmClient
from .codec import canonical_time

Record = dict[str, t.Any]
HASH_PROPERTY = "opsgate.attachments"


def attachments(client: JsmClient, key: str) -> list[Record]:
    """``{id, name, size, sha256, content_type, created, url}`` of the issue's attachments, oldest first."""
    items, _hashes = _read(client, key)
    return items


def add_attachment(client: JsmClient, key: str, path: str, name: str | None, content_type: str | None,
                   check_mode: bool) -> tuple[bool, Record]:
    """Upload unless an attachment of this name with the same sha256 is on the issue ``key`` (its key or id);
    an older content of the same name is replaced. ``(changed, attachment)``."""
    file = attachment_file(path, name, content_type)
    name, content = file.name, file.content
    existing, hashes = _read(client, key)
    attached = file.already_attached(existing)
    if attached or check_mode:
        return attached is None, attached or file.planned()
    same = [item for item in existing if item["name"] == name]
    before = {item["id"] for item in existing}

    def recover() -> Response | None:
        landed = [item for item in _read(client, key)[0] if item["id"] not in before and item["name"] == name
                  and item["size"] == len(content)]
        return Response(200, {}, [{"id": landed[-1]["id"]}], "") if landed else None

    new_id = str(client.upload_attachment(key, name, content, file.content_type, recover=recover)["id"])
    kept = {item["id"]: hashes[item["id"]] for item in existing if item["id"] in hashes and item not in same}
    client.set_property(key, HASH_PROPERTY, dict(kept, **{new_id: file.sha256}))
    for item in same:
        client.delete_attachment(item["id"], f"replace {name} on {key}")
    added = [item for item in attachments(client, key) if item["id"] == new_id]
    return True, added[0] if added else dict(file.planned(), id=new_id)


def from_issue(issue: t.Mapping[str, t.Any]) -> list[Record]:
    """The canonical attachments of an issue read with ``fields=attachment`` and ``properties=HASH_PROPERTY``."""
    hashes = (issue.get("properties") or {}).get(HASH_PROPERTY)
    hashes = hashes if isinstance(hashes, dict) else {}
    rows = [row for row in (issue.get("fields") or {}).get("attachment") or [] if isinstance(row, dict)]
    rows.sort(key=lambda row: _int(row.get("id")))  # Jira numbers attachments in the order they arrive
    return [_attachment(row, hashes) for row in rows]


def _read(client: JsmClient, key: str) -> tuple[list[Record], dict[str, str]]:
    issue = client.issue(key, fields=("attachment",), properties=(HASH_PROPERTY,))
    hashes = (issue.get("properties") or {}).get(HASH_PROPERTY)
    return from_issue(issue), {str(k): str(v) for k, v in hashes.items()} if isinstance(hashes, dict) else {}


def _attachment(row: t.Mapping[str, t.Any], hashes: t.Mapping[str, t.Any]) -> Record:
    attachment_id = str(row.get("id"))
    return {"id": attachment_id, "name": row.get("filename"), "size": _int(row.get("size")),
            "sha256": hashes.get(attachment_id) or None, "content_type": row.get("mimeType") or None,
            "created": canonical_time(row.get("created")), "url": row.get("content") or None}


def _int(value: t.Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
