# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run() of the outbox module. FOR INTERNAL COLLECTION USE ONLY."""

from __future__ import annotations

import typing as t

from ansible.module_utils.basic import env_fallback

from .. import _outbox
from ..backends._base import ItsmBackend

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = dict(
    action=dict(type="str", choices=["flush", "list", "purge"], default="flush"),
    # str, not path: a PostgreSQL URL is a value too (issue 17); _outbox expands a file's ~ and $VARS itself
    path=dict(type="str", fallback=(env_fallback, [_outbox.OUTBOX_ENV])),
    states=dict(type="list", elements="str", choices=list(_outbox.STATES)),
    ids=dict(type="list", elements="str"),
    retry_failed=dict(type="bool", default=False),
    all_targets=dict(type="bool", default=False),
)
ARGUMENT_RULES = dict(
    mutually_exclusive=[("ids", "states")],
)
_DEFAULT_STATES = {"list": ("pending", "failed"), "purge": ("delivered",)}


def run(params: t.Mapping[str, t.Any], backend: ItsmBackend, check_mode: bool,
        warn: t.Callable[[str], None]) -> dict[str, t.Any]:
    store = _outbox.Outbox(params.get("path"), timeout=backend.settings.timeout, warn=warn,
                           password=_outbox.password_of(backend.settings), option="path")
    target = None if params["all_targets"] else _outbox.target_of(backend.settings)
    action = params["action"]
    states = tuple(params.get("states") or _DEFAULT_STATES.get(action, ()))
    result: dict[str, t.Any] = dict(path=store.path, target=target)
    if action == "list":
        queued = store.list(states, target)
        return dict(result, changed=False, queued=queued, permanent_failures=sum(item["permanent"] for item in queued))
    if action == "purge":
        gone = store.purge(ids=params.get("ids"), states=states, check_mode=check_mode)
        return dict(result, changed=bool(gone), purged=gone)
    # flush: always to the backend of this task's connection, whatever all_targets says
    target = _outbox.target_of(backend.settings)
    sendable = ("pending", "failed") if params["retry_failed"] else ("pending",)
    waiting = store.list(sendable, target)
    elsewhere = _waiting_elsewhere(store, target, sendable, warn)
    if check_mode:
        refused = store.list(("failed",), target)
        if refused and not params["retry_failed"]:
            warn(_outbox.refused_text(refused, backend.name, store.path))
        leased, leased_until = store.leased_elsewhere(target, states=sendable)
        if leased:
            warn(_outbox.leased_text(leased, leased_until, store.path))
        return dict(result, target=target, changed=bool(waiting), delivered=[], refused=[],
                    remaining=len(waiting), other_targets=elsewhere, queued=waiting, permanent_failures=len(refused),
                    leased=leased, leased_until=leased_until)
    report = _outbox.flush(store, backend, target, warn, retry_failed=params["retry_failed"])
    if report["outage"]:
        left = report["remaining"]
        warn(f"outbox: the {backend.name} backend failed ({report['outage']}); "
             f"{_outbox.count_of(left)} {'stays' if left == 1 else 'stay'} queued for the next flush")
    return dict(result, target=target, changed=bool(report["delivered"]), delivered=report["delivered"],
                refused=report["refused"], remaining=report["remaining"], other_targets=elsewhere,
                leased=report["leased"], leased_until=report["leased_until"],
                permanent_failures=report["permanent_failures"], queued=store.list(("pending", "failed"), target))


def _waiting_elsewhere(store: _outbox.Outbox, target: str, states: tuple[str, ...],
                       warn: t.Callable[[str], None]) -> dict[str, int]:
    """Items a flush to ``target`` cannot send: another backend or URL queued them (a flush connected
    somewhere else than the recorder was would otherwise report "nothing pending" while they wait)."""
    counts: dict[str, int] = {}
    for item in store.list(states):
        if item["target"] != target:
            counts[item["target"]] = counts.get(item["target"], 0) + 1
    if counts:
        named = ", ".join(f"{count} for {other}" for other, count in sorted(counts.items()))
        total = sum(counts.values())
        verb = "waits" if total == 1 else "wait"
        warn(f"outbox: {_outbox.count_of(total)} in {store.path} {verb} for another backend than {target} "
             f"({named}); flush them with that backend's connection")
    return counts
