# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Blackout windows of the local backend (table ``blackouts``): global, named. FOR INTERNAL COLLECTION USE ONLY."""

from __future__ import annotations

from ... import _input as inputs
from . import schema
from .schema import NAME, Record
from .store import LocalStore


def blackouts(store: LocalStore, start: str, end: str) -> list[Record]:
    """Windows overlapping [start, end]; touching at an edge is no overlap."""
    start, end = inputs.window(start, end, "start", "end")
    with store.read() as conn:
        rows = conn.execute("SELECT name, start_at, end_at, reason FROM blackouts WHERE start_at < ? AND "
                            "end_at > ? ORDER BY start_at, name", (end, start)).fetchall() if conn else []
    return [{"name": row["name"], "start": row["start_at"], "end": row["end_at"], "source": NAME,
             "reason": row["reason"]} for row in rows]


def put_blackout(store: LocalStore, name: str, start: str, end: str, reason: str | None = None,
                 check_mode: bool = False) -> bool:
    """Define or redefine the blackout window ``name``; True when something changed."""
    start, end = inputs.window(start, end, "start", "end")
    wanted = (inputs.require_text("name", name), start, end, reason)
    return store.put_row("SELECT name, start_at, end_at, reason FROM blackouts WHERE name = ?",
                         schema.upsert_sql("blackouts", ("name", "start_at", "end_at", "reason")),
                         wanted, check_mode)
