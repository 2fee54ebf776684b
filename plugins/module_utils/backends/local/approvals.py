# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Approvals of changes in the local backend (table ``approvals``, append-only). FOR INTERNAL COLLECTION USE ONLY.

An approver decides once per approval round (a round starts when the change enters assess, or authorize
for an emergency change): repeating the same decision in the round is a no-op, so a re-run play changes
nothing, and a normal change's two stages need two different approvers (a warning says so). A caller
whose ``record["state"]`` is no longer the stored state is refused rather than deciding a stage it never saw.
"""

from __future__ import annotations

import typing as t

from ... import _input as inputs
from ... import _lifecycle as lifecycle
from ..._errors import ItsmTransitionError
from ..._records import CHANGE
from . import schema
from .model import label
from .schema import Record
from .store import LocalStore

Warn = t.Callable[[str], None]


def approvals(store: LocalStore, record: Record) -> list[Record]:
    with store.read() as conn:
        record_id = store.record_id(conn, CHANGE, record) if conn else None
        rows = conn.execute("SELECT approver, state, comments, stage, decided_at FROM approvals "
                            "WHERE change_id = ? ORDER BY seq", (record_id,)).fetchall() if record_id else []
    return [dict(row) for row in rows]


def approvals_for(store: LocalStore, ids: t.Sequence[str]) -> dict[str, list[Record]]:
    found: dict[str, list[Record]] = {change_id: [] for change_id in ids}
    with store.read() as conn:
        rows = conn.execute(f"SELECT change_id, approver, state, comments, stage, decided_at FROM approvals "
                            f"WHERE change_id IN ({','.join('?' * len(found))}) ORDER BY seq",
                            list(found)).fetchall() if conn and found else []
    for row in rows:
        found[row["change_id"]].append({key: row[key] for key in row.keys() if key != "change_id"})
    return found


def decide_approval(store: LocalStore, warn: Warn, record: Record, approver: str, decision: str,
                    comments: str | None, check_mode: bool = False) -> Record:
    """Decide the stage the change is in (see the module docstring); returns the change as it is afterwards."""
    inputs.approval_decision(approver, decision, comments)
    now = inputs.now()
    with store.write(check_mode) as conn:
        row = store.row_for(conn, CHANGE, record)
        earlier = conn.execute(
            "SELECT stage FROM approvals WHERE change_id = ? AND approver = ? AND state = ? AND round = ?",
            (row["id"], approver, decision, row["approval_round"])).fetchone() if conn else None
        outcome = lifecycle.approval_outcome(row["type"], row["state"], decision)
        if earlier is not None:
            if outcome is not None and earlier["stage"] != row["state"]:
                warn(f"{approver} already {decision} {label(CHANGE, row)} at {earlier['stage']} in this "
                     f"approval round; another approver must decide at {row['state']}")
            return schema.record_of(CHANGE, row)
        if outcome is None:
            raise ItsmTransitionError(f"{label(CHANGE, row)} is not awaiting approval: state {row['state']}, "
                                      f"approval {row['approval']}", option="state", value=row["state"])
        stage = record.get("state") or row["state"]
        if stage != row["state"]:
            raise ItsmTransitionError(f"{label(CHANGE, row)} moved on from {stage} to {row['state']} since it "
                                      "was read; read it again before deciding", option="state", value=stage)
        new = dict(row, state=outcome[0], approval=outcome[1], updated_at=now)
        if check_mode:
            return schema.record_of(CHANGE, new)
        conn.execute("INSERT INTO approvals (change_id, approver, state, comments, stage, round, decided_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (row["id"], approver, decision, comments, stage, row["approval_round"], now))
        said = f": {comments}" if comments else ""
        event = {"type": "approval", "field": stage, "new": decision,
                 "text": f"{approver} {decision} at {stage}{said}"}
        store.write_record(conn, CHANGE, row, new, [event] + schema.diff_events(CHANGE, row, new), now)
        return store.fetch(conn, CHANGE, row["id"])
