# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recurrences of a deduplicated incident on ServiceNow: each number claimed once. FOR INTERNAL COLLECTION USE ONLY.

Each recurrence adds the work note ``Recurrence #N: <text>`` (N 2 for the first recurrence, as _lookup numbers
them). Counting the notes and then writing one lets two forks write the same N (issue 14, item 7), and the
Table API has no conditional update (no If-Match, no update WHERE) to make "read N, write N + 1" one step. What it
has is a primary key: an insert that supplies a ``sys_id`` already taken fails, on the instance's database, for
every writer but one. So a writer first *claims* N: it inserts a ``sys_journal_field`` row of its own element
``opsgate_recurrence`` (no journal field of the form: the activity stream does not show it, and the backend's
journal reads only ``work_notes`` and ``comments``) whose sys_id is derived from the incident and N, its value
``N`` zero-padded (the highest claim is one sorted read) and the claimer's token; only the writer whose claim landed
adds the note ``#N``. A writer whose claim was taken reads the highest claim again and claims the next number:
each number is written once, and, as each writer claims one above the highest, without a gap between claims.

- A failed or timed-out claim is looked for by its sys_id before anything else: found with the writer's own
  token, it landed; found with another's, the number is taken; not found, the error stands.
- The Table API keeps a supplied sys_id on insert (writes.py relies on it for creates); an instance that did not
  would answer with another sys_id: the writer then warns that numbers may repeat, and goes on. An instance whose
  ACLs refuse the user an insert into ``sys_journal_field`` (403, no claim there) gets the note numbered from the
  recurrence notes, as before claims, with the same warning naming what to grant.
- An incident without claims (recurrences noted before this version) starts from its recurrence work notes.
- ``once_key`` (the outbox's run marker, part of ``text``): a note carrying it means the occurrence was recorded;
  a claim carrying it without its note (the claimer stopped in between) gets its note now.
- A writer stopped between its claim and its note leaves that number without a note (the next recurrence goes
  on above it); nothing else is lost or doubled.
"""

from __future__ import annotations

import json
import typing as t
import uuid

from ..._errors import ItsmConflictError, ItsmError
from ..._http import Response
from ..._lookup import RECURRENCE_PREFIX, JournalTexts, recurrence_number
from ..._records import INCIDENT
from .._base import Recurrence
from . import mapping
from .client import TABLE_API, ServiceNowClient
from .journal import Journal
from .reads import RecordReader

Record = dict[str, t.Any]
#: the sys_journal_field element of a claim
CLAIM_ELEMENT = "opsgate_recurrence"
#: claims one writer makes before it gives up: each claim lost is a number another writer took
MAX_CLAIMS = 200
_CLAIM_IDS = uuid.UUID("5f3c9a0e-7a52-4c1e-9d0b-0a5e3f1c2b7d")  # the namespace of the claims' sys_ids


class Claim(t.NamedTuple):
    number: int
    token: str
    key: str | None


class Recurrences:
    """Numbering the recurrences of incidents (see the module docstring)."""

    def __init__(self, client: ServiceNowClient, reads: RecordReader, journals: Journal):
        self.client = client
        self.reads = reads
        self.journals = journals
        self._warned = False

    def record(self, record: Record, text: str, check_mode: bool = False, once_key: str | None = None) -> Recurrence:
        record_id = self.reads.id_of(INCIDENT, record)
        if once_key is not None:
            done = self._recorded(record_id, text, check_mode, once_key)
            if done is not None:
                return done
        token = uuid.uuid4().hex
        for _attempt in range(MAX_CLAIMS):
            number = self._occurrences(record_id) + 1
            note = f"{RECURRENCE_PREFIX}{number}: {text}"
            if check_mode:
                return Recurrence(number, True, note)
            claimed = self._claim(record_id, number, token, once_key)
            if claimed is None:  # the user may not insert claims: numbered from the notes, as before claims
                number = recurrence_number(self.journals.journal(INCIDENT, {"id": record_id}))
                note = f"{RECURRENCE_PREFIX}{number}: {text}"
                claimed = True
            if claimed:
                self._note(record_id, note)
                return Recurrence(number, True, note)
        raise ItsmConflictError(f"record a recurrence of incident {record.get('number') or record_id}: "
                                f"{MAX_CLAIMS} other writers claimed each number first; run again")

    def _recorded(self, record_id: str, text: str, check_mode: bool, once_key: str) -> Recurrence | None:
        """What recording the occurrence ``once_key`` names comes to when it was recorded already (a delivery
        retried): nothing when a note carries the key; the note when only its claim does (the claimer stopped in
        between). None when the occurrence is new."""
        entries = self.journals.journal(INCIDENT, {"id": record_id})
        claims = self._claims(record_id)
        if any(once_key in (entry.get("text") or "") for entry in entries):
            count = max((claim.number for claim in claims), default=recurrence_number(entries) - 1)
            return Recurrence(count, False, None)
        mine = [claim for claim in claims if claim.key == once_key]
        if not mine:
            return None
        note = f"{RECURRENCE_PREFIX}{mine[0].number}: {text}"
        if not check_mode:
            self._note(record_id, note)
        return Recurrence(mine[0].number, True, note)

    def _occurrences(self, record_id: str) -> int:
        """Occurrences so far: the highest claim, or (no claim yet) 1 + the recurrence work notes."""
        rows = self.client.rows("sys_journal_field", f"element_id={record_id}^element={CLAIM_ELEMENT}"
                                "^ORDERBYDESCvalue", ["value"], 1, what="read the recurrence count")
        if rows:
            return _parse(rows[0]["value"]).number
        return recurrence_number(self.journals.journal(INCIDENT, {"id": record_id})) - 1

    def _claims(self, record_id: str) -> list[Claim]:
        rows = self.client.rows("sys_journal_field", f"element_id={record_id}^element={CLAIM_ELEMENT}",
                                ["value"], 10000, what="read the recurrence claims")
        return [_parse(row["value"]) for row in rows]

    def _claim(self, record_id: str, number: int, token: str, once_key: str | None) -> bool | None:
        """Whether this writer's claim of ``number`` landed (False: another writer holds it; None: the instance
        refuses this user's claims, 403 with no claim there, which is warned of once)."""
        sys_id = uuid.uuid5(_CLAIM_IDS, f"{record_id}:{number}").hex
        body = {"sys_id": sys_id, "element_id": record_id, "element": CLAIM_ELEMENT, "name": mapping.TABLES[INCIDENT],
                "value": f"{number:010d} " + json.dumps({"token": token, "key": once_key}, sort_keys=True)}

        def landed() -> Response | None:
            rows = self.client.rows("sys_journal_field", f"sys_id={sys_id}", ["sys_id", "value"], 1,
                                    what="look for the recurrence claim")
            return Response(201, {}, {"result": rows[0]}, "") if rows else None

        try:
            answer = self.client.http.request(
                "POST", TABLE_API + "sys_journal_field", params={"sysparm_fields": "sys_id,value"}, json_body=body,
                idempotent=False, recover=landed, what=f"claim recurrence #{number}")
        except ItsmError as error:
            answer = landed()  # a number taken already fails on the key; anything else stands
            if answer is None and getattr(error, "status", None) == 403:
                self._warn_once(f"{self.client.settings.url} refused to insert a recurrence claim "
                                f"(sys_journal_field, element {CLAIM_ELEMENT}) for user {self.client.settings.username}: "
                                "recurrence numbers may repeat when several writers record one incident at once; "
                                "grant the user insert on sys_journal_field for exact numbers")
                return None
            if answer is None:
                raise
        row = answer.body["result"]
        if row.get("sys_id") != sys_id:
            self._warn_once(f"{self.client.settings.url} did not keep the sys_id sent with a recurrence claim: "
                            "recurrence numbers may repeat when several writers record one incident at once")
        return _parse(row.get("value")).token == token

    def _warn_once(self, text: str) -> None:
        if not self._warned:
            self._warned = True
            self.client.warn(text)

    def _note(self, record_id: str, note: str) -> None:
        # No note carries the claimed number yet, so no read before writing (the journal's guard, after a failure).
        self.journals.add_journal(INCIDENT, {"id": record_id}, "work_notes", note,
                                  known_notes=JournalTexts.from_entries([]))


def _parse(value: t.Any) -> Claim:
    number, _space, rest = str(value or "").partition(" ")
    try:
        fields = json.loads(rest) if rest else {}
        return Claim(int(number), str(fields.get("token") or ""), fields.get("key"))
    except (TypeError, ValueError, AttributeError):
        return Claim(0, "", None)  # not a claim of ours: never the highest, never this writer's
