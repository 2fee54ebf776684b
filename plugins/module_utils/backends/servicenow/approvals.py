# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Approvals of changes on a ServiceNow instance (``sysapproval_approver``). FOR INTERNAL COLLECTION USE ONLY.

``approvals`` lists the rows in canonical states with the latest comment; ``stage`` is None (ServiceNow
does not record it). ``decide_approval`` decides the approver's pending row through the Table API (an
admin may decide for others, as on the platform); a decision is resent only while its row is still
``requested``. ``approvals_for`` reads the approvals of many changes in one request.
"""

from __future__ import annotations

import typing as t

from ... import _input as inputs
from ... import _lifecycle as lifecycle
from ... import _records as records
from ..._errors import ItsmTransitionError
from ..._http import Response
from . import query
from .client import TABLE_API, ServiceNowClient
from .codec import APPROVAL_FIELDS, approvals_by_change
from .reads import RecordReader

Record = dict[str, t.Any]
CHANGE = records.CHANGE


def approvals(client: ServiceNowClient, reads: RecordReader, record: Record) -> list[Record]:
    """The change's approval rows in canonical states, oldest first, with each one's latest comment (a look-up
    with ``include={"approvals"}`` reads the same in its own request: lookup_batch.py)."""
    change_id = reads.id_of(CHANGE, record)
    rows = client.rows("sysapproval_approver", f"sysapproval={change_id}^ORDERBYsys_created_on", APPROVAL_FIELDS,
                       1000, what=f"read the approvals of {record.get('number') or change_id}", display="all")
    return approvals_by_change(rows).get(change_id, [])


def approvals_for(client: ServiceNowClient, ids: t.Sequence[str]) -> dict[str, list[Record]]:
    """The approvals of many changes in one request (``sysapprovalIN``), by change id."""
    if not ids:
        return {}
    rows = client.rows("sysapproval_approver", f"sysapprovalIN{','.join(ids)}^ORDERBYsys_created_on",
                       APPROVAL_FIELDS, 10000, what=f"read the approvals of {len(ids)} changes", display="all")
    return {change_id: [] for change_id in ids} | approvals_by_change(rows)


def decide_approval(client: ServiceNowClient, reads: RecordReader, record: Record, approver: str, decision: str,
                    comments: str | None, check_mode: bool) -> Record:
    inputs.approval_decision(approver, decision, comments)
    change_id = reads.id_of(CHANGE, record)
    label = record.get("number") or change_id
    condition = f"sysapproval={change_id}^approver.user_name={query.escape(approver, 'approver')}"
    rows = client.rows("sysapproval_approver", condition, ["sys_id", "state"], 100,
                       what=f"read the approvals of {label}")
    pending = [row for row in rows if row["state"] == "requested"]
    if not pending:
        if any(row["state"] == decision for row in rows):
            return reads.get(CHANGE, id=change_id) or record  # decided already: a re-run changes nothing
        raise ItsmTransitionError(
            f"{label} is not awaiting approval from {approver} (state {record.get('state')}, approval "
            f"{record.get('approval')}); only an approver with a pending approval can decide", option="approver",
            value=approver)
    if check_mode:
        outcome = lifecycle.approval_outcome(record.get("type") or "normal", record.get("state") or "", decision)
        return dict(record, state=outcome[0], approval=outcome[1]) if outcome else dict(record)
    body = {"state": decision}
    if comments:
        body["comments"] = comments
    row_id = pending[0]["sys_id"]

    def recover() -> Response | None:
        # State and comment are one update: the state read back tells whether the comment landed too,
        # so a decision is resent only while its row still waits (a resend never doubles the comment).
        rows = client.rows("sysapproval_approver", f"sys_id={row_id}", ["state"], 1,
                           what=f"look for {approver}'s decision on {label}")
        return Response(200, {}, None, "") if rows and rows[0]["state"] != "requested" else None

    client.http.request("PATCH", f"{TABLE_API}sysapproval_approver/{row_id}",
                        params={"sysparm_fields": "sys_id,state"}, json_body=body, idempotent=False,
                        recover=recover, what=f"record {approver}'s decision on {label}")
    return reads.get(CHANGE, id=change_id) or record
