# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attachments of the local backend (table ``attachments``, schema version 3). FOR INTERNAL COLLECTION USE ONLY.

The bytes live in the store; a file with the same name and sha256 as one the record has is not stored again.
"""

from __future__ import annotations

import typing as t
import uuid

from ... import _input as inputs
from ... import _records as records
from .._base import attachment_file
from . import schema
from .schema import Record
from .store import LocalStore

_ATTACHMENT_COLUMNS = "id, name, content_type, size, sha256, created"


def add_attachment(store: LocalStore, kind: str, record: Record, path: str, name: str | None,
                   content_type: str | None, check_mode: bool) -> tuple[bool, Record]:
    """Store the file's bytes; same name and sha256 is a no-op, a new content replaces the old one."""
    records.require_choice("kind", kind, records.KINDS)
    file = attachment_file(path, name, content_type)
    content, digest, name, content_type = file
    now = inputs.now()
    with store.write(check_mode) as conn:
        row = store.row_for(conn, kind, record)
        same = conn.execute(f"SELECT {_ATTACHMENT_COLUMNS} FROM attachments WHERE kind = ? AND record_id = ? "
                            "AND name = ? ORDER BY seq", (kind, row["id"], name)).fetchall() if conn else []
        for old in same:
            if old["sha256"] == digest:
                return False, _attachment(old)
        new = {"id": uuid.uuid4().hex if not check_mode else None, "name": name, "content_type": content_type,
               "size": len(content), "sha256": digest, "created": now}
        if check_mode:
            return True, _attachment(new)
        conn.execute("DELETE FROM attachments WHERE kind = ? AND record_id = ? AND name = ?", (kind, row["id"], name))
        conn.execute("INSERT INTO attachments (id, kind, record_id, name, content_type, size, sha256, content, "
                     "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (new["id"], kind, row["id"], name, content_type, len(content), digest, content, now))
        verb = "replaced" if same else "attached"
        schema.add_events(conn, kind, row["id"], store.actor, now, [
            {"type": "attachment", "field": name, "new": digest, "text": f"{verb} {name} ({len(content)} bytes)"}])
        return True, _attachment(new)


def attachments(store: LocalStore, kind: str, record: Record) -> list[Record]:
    """The record's attachments, oldest first."""
    records.require_choice("kind", kind, records.KINDS)
    with store.read() as conn:
        record_id = store.record_id(conn, kind, record) if conn else None
        rows = conn.execute(f"SELECT {_ATTACHMENT_COLUMNS} FROM attachments WHERE kind = ? AND record_id = ? "
                            "ORDER BY seq", (kind, record_id)).fetchall() if record_id else []
    return [_attachment(row) for row in rows]


def _attachment(row: t.Mapping[str, t.Any]) -> Record:
    return {"id": row["id"], "name": row["name"], "size": row["size"], "sha256": row["sha256"],
            "content_type": row["content_type"], "created": row["created"],
            "url": f"local://attachments/{row['id']}" if row["id"] else None}
