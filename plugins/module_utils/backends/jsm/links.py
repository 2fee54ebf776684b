# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An incident's ``caused_by`` as a Jira issue link. FOR INTERNAL COLLECTION USE ONLY.

The link type ``Causes`` (outward "causes", inward "is caused by", one of Jira's default link types) joins the
change (the cause) to the incident: the incident "is caused by" the change. Reading: ``caused_by(issue)`` is the
key of the issue an incident's ``issuelinks`` (ISSUE_FIELDS) say it is caused by, the newest such link when
there are several. Writing: ``set_caused_by`` makes that link the only one (an older cause's link is removed,
as ServiceNow's single ``caused_by`` reference is replaced) and reads the issue back to verify; that the change
exists is the caller's check, made before its first write (as the incident runner does). Keys compare in any
case. Searching incidents by cause (JQL ``issue in linkedIssues(KEY, "is caused by")``) is not done here.
"""

from __future__ import annotations

import typing as t

from ..._errors import ItsmUnexpectedResponseError
from ..._http import Response
from .client import JsmClient

CAUSES = "Causes"
#: the issue fields caused_by() reads
ISSUE_FIELDS = ("issuelinks",)


def caused_by(issue: t.Mapping[str, t.Any]) -> str | None:
    """The key of the issue this one is caused by (its newest ``Causes`` link seen from the caused side)."""
    causes = _cause_links(issue)
    return causes[-1][1] if causes else None


def set_caused_by(client: JsmClient, key: str, cause_key: str, check_mode: bool = False) -> bool:
    """Make ``cause_key`` the issue's only cause; True when something changed (or would, in check mode)."""
    issue = client.issue(key, fields=ISSUE_FIELDS)
    links = _cause_links(issue)
    ours = [link_id for link_id, linked in links if linked.upper() == cause_key.upper()]
    others = [link_id for link_id, linked in links if linked.upper() != cause_key.upper()]
    if ours and not others:
        return False
    if check_mode:
        return True
    if not ours:
        def recover() -> Response | None:
            # A link is one row per pair and type: if the read shows it, the POST landed.
            again = client.issue(key, fields=ISSUE_FIELDS)
            landed = any(linked.upper() == cause_key.upper() for _link, linked in _cause_links(again))
            return Response(201, {}, None, "") if landed else None

        client.add_link(CAUSES, cause_key, key, f"link {key} to its cause {cause_key}", recover=recover)
    for link_id in others:
        client.delete_link(link_id, f"remove the former cause of {key}")
    if (caused_by(client.issue(key, fields=ISSUE_FIELDS)) or "").upper() != cause_key.upper():
        raise ItsmUnexpectedResponseError(f"caused_by: {key} was linked to {cause_key}, but reading it back does not "
                                          f"show {cause_key} as its cause", url=client.http.base)
    return True


def clear_caused_by(client: JsmClient, key: str, check_mode: bool = False) -> bool:
    """Remove every ``is caused by`` link of the issue; True when there was one."""
    links = _cause_links(client.issue(key, fields=ISSUE_FIELDS))
    if links and not check_mode:
        for link_id, _linked in links:
            client.delete_link(link_id, f"remove the cause of {key}")
    return bool(links)


def _cause_links(issue: t.Mapping[str, t.Any]) -> list[tuple[str, str]]:
    """``(link id, key of the cause)`` of the issue's "is caused by" links, oldest link first."""
    found = []
    for link in (issue.get("fields") or {}).get("issuelinks") or []:
        kind = link.get("type") or {}
        cause = link.get("inwardIssue")
        if str(kind.get("name", "")).lower() == CAUSES.lower() and isinstance(cause, dict) and cause.get("key"):
            found.append((str(link.get("id")), str(cause["key"])))
    return sorted(found, key=lambda item: int(item[0]) if item[0].isdigit() else 0)
