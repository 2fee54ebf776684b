# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Event-Driven Ansible source opsgate.itsm.change_events, driven as an async generator against every backend
with approvals (local, the ServiceNow simulator, the JSM simulator on both flavours).

It lives beside the contract suite to use its approval scenarios: each backend's own way to request and give an
approval. The source builds its own backend from connection arguments (the fixture's settings), as it does under
ansible-rulebook; tests/integration/targets/eda_change_events runs it under ansible-rulebook itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import os
import stat
import time
import typing as t
import uuid

import pytest

from ansible_collections.opsgate.itsm.extensions.eda.plugins.event_source import change_events
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmTransientError, ItsmValidationError
from tests.unit.plugins.module_utils.backends import jsm_sim, sn_sim

FAST = 0.05


def source_args(backend, **watch) -> dict:
    """The source's arguments: the backend's connection settings (as a rulebook would give them) and ``watch``."""
    args = {name: value for name, value in dataclasses.asdict(backend.settings).items() if value is not None}
    args.update(interval=FAST, max_interval=FAST * 4, **watch)
    return args


class Source:
    """Consumes the source's async generator; a wait that sees no event leaves its request pending, not cancelled
    (cancelling it would end the generator)."""

    def __init__(self, args, **options):
        self.events = change_events.watch(args, **options)
        self.pending: asyncio.Future | None = None

    def _next(self) -> asyncio.Future:
        if self.pending is None:
            self.pending = asyncio.ensure_future(self.events.__anext__())
        return self.pending

    async def take(self, count: int, timeout: float = 20.0) -> list[dict]:
        taken = []
        for _index in range(count):
            taken.append(await asyncio.wait_for(asyncio.shield(self._next()), timeout))
            self.pending = None
        return taken

    async def quiet(self, wait: float = 0.6) -> bool:
        """True when no event came within ``wait`` seconds (several polls)."""
        done, _pending = await asyncio.wait({self._next()}, timeout=wait)
        return not done

    async def close(self) -> None:
        if self.pending is not None:
            self.pending.cancel()
            await asyncio.gather(self.pending, return_exceptions=True)
        await self.events.aclose()


def window_now() -> dict:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    return {"start_date": (now - dt.timedelta(minutes=5)).isoformat(), "end_date": (now + dt.timedelta(hours=2)).isoformat()}


def test_approval_events_resume_from_the_checkpoint_without_repeats(approvals_backend, approval_scenario, tmp_path):
    backend, scenario = approvals_backend, approval_scenario
    correlation_id = f"eda-{uuid.uuid4().hex[:12]}"
    checkpoint = tmp_path / "state" / "change_events.json"
    args = source_args(backend, correlation_ids=[correlation_id], checkpoint=str(checkpoint))

    async def first_run():
        events = Source(args)
        change = backend.create("change", {"short_description": "deploy web", "correlation_id": correlation_id,
                                           **window_now()})
        change = scenario.request(backend, change)
        got = await events.take(2)
        await events.close()  # the source stops (a restart of ansible-rulebook)
        return change, got

    change, first = asyncio.run(first_run())
    assert [(e["number"], e["event"]) for e in first] == [(change["number"], "approval_changed"),
                                                          (change["number"], "state_changed")]
    assert first[0]["record"]["approval"] == "requested"
    assert first[0]["previous"] == {"state": "new", "approval": "not_requested"}
    assert stat.S_IMODE(os.stat(checkpoint).st_mode) == 0o600

    # While the source is down, every approver approves.
    for approver, connected, _after in scenario.stages:
        change = connected.decide_approval(change, approver, "approved", "fine")
    assert (change["state"], change["approval"]) == ("scheduled", "approved")

    async def second_run():
        events = Source(args)
        try:
            got = await events.take(3)
            return got, await events.quiet()
        finally:
            await events.close()

    second, quiet = asyncio.run(second_run())
    # What happened while it was down, once; nothing from before the restart again.
    assert [e["event"] for e in second] == ["approved", "scheduled", "window_open"]
    assert all(e["number"] == change["number"] for e in second)
    assert second[0]["previous"]["approval"] == "requested"
    assert quiet
    assert len({e["event_id"] for e in first + second}) == 5
    json.dumps(second)  # events are plain data, as ansible-rulebook needs


def test_rejection_and_cancel_by_number(approvals_backend, approval_scenario, tmp_path):
    backend, scenario = approvals_backend, approval_scenario
    change = scenario.request(backend, backend.create("change", {"short_description": "risky"}))
    args = source_args(backend, numbers=[change["number"]])

    async def run():
        events = Source(args)
        try:
            # First seen already awaiting approval: a named change is compared with a new one.
            first = await events.take(2)
            approver, connected, _after = scenario.stages[0]
            rejected = connected.decide_approval(change, approver, "rejected", "no backout plan")
            second = await events.take(2)  # the workflow sends a rejected change back to new
            backend.transition("change", backend.get("change", id=rejected["id"]), "canceled")
            third = await events.take(1)
            while third[-1]["event"] != "canceled" and len(third) < 3:  # jsm also clears the approval on cancel
                third += await events.take(1)
            return first, second, third, await events.quiet()
        finally:
            await events.close()

    first, second, third, quiet = asyncio.run(run())
    assert [e["event"] for e in first] == ["approval_changed", "state_changed"]
    assert [e["event"] for e in second] == ["rejected", "state_changed"]
    assert second[1]["record"]["state"] == scenario.rejected[0] == "new"
    assert third[-1]["event"] == "canceled"
    assert third[-1]["record"]["state"] == "canceled"
    assert quiet


class CountingBackend:
    """The local backend with its finds counted, and failures injected on demand."""

    def __init__(self, backend, failures: int = 0):
        self.backend, self.failures, self.finds = backend, failures, []

    def find(self, kind, filters, limit=None):
        self.finds.append(dict(filters))
        if self.failures:
            self.failures -= 1
            raise ItsmTransientError("the instance answered 503")
        return list(self.backend.find(kind, filters, limit))


def test_one_find_per_poll_for_every_known_change(local, tmp_path):
    numbers = [local.create("change", {"short_description": f"c{index}"})["number"] for index in range(5)]
    counting = CountingBackend(local)

    async def run():
        events = Source({"numbers": numbers, "interval": FAST}, backend=counting)
        try:
            for number in numbers:
                local.transition("change", local.get("change", number=number), "canceled")
            return await events.take(5)
        finally:
            await events.close()

    got = asyncio.run(run())
    assert sorted(e["number"] for e in got) == sorted(numbers)
    assert {e["event"] for e in got} == {"canceled"}
    assert counting.finds and all(found == {"number": numbers} for found in counting.finds)


def test_filters_take_changes_as_first_seen_then_follow_them(local):
    old = local.transition("change", local.create("change", {"short_description": "old", "assignment_group": "web"}),
                           "assess", {"assignment_group": "web"})
    counting = CountingBackend(local)

    async def run():
        events = Source({"filters": {"assignment_group": "web", "state": ["assess"]}, "interval": FAST},
                        backend=counting)
        try:
            quiet = await events.quiet(0.3)  # the change already in assess is not news
            local.transition("change", local.get("change", id=old["id"]), "canceled")  # leaves the filter
            return quiet, await events.take(1)
        finally:
            await events.close()

    quiet, got = asyncio.run(run())
    assert quiet
    assert (got[0]["number"], got[0]["event"]) == (old["number"], "canceled")
    assert {"number": [old["number"]]} in counting.finds  # followed by number once known


def test_a_failing_poll_backs_off_and_recovers(local):
    change = local.create("change", {"short_description": "flaky"})
    counting = CountingBackend(local, failures=2)

    async def run():
        events = Source({"numbers": [change["number"]], "interval": FAST}, backend=counting)
        try:
            local.transition("change", local.get("change", id=change["id"]), "canceled")
            return await events.take(1)
        finally:
            await events.close()

    assert asyncio.run(run())[0]["event"] == "canceled"
    assert len(counting.finds) >= 3


@pytest.mark.parametrize("args, option", [
    ({}, "numbers"),
    ({"numbers": "CHG0000001"}, "numbers"),
    ({"numbers": ["CHG0000001"], "interval": 0}, "interval"),
    ({"numbers": ["CHG0000001"], "filters": ["state"]}, "filters"),
    ({"numbers": ["CHG0000001"], "backend": "remedy"}, "backend"),
    ({"numbers": ["CHG0000001"], "timeout": "soon"}, "timeout"),
    ({"numbers": ["CHG0000001"], "number": "CHG0000001"}, "number"),
    ({"correlation_ids": ["deploy-1", "deploy,2"]}, "correlation_ids"),  # one find reads them all: no comma
    ({"correlation_ids": ["deploy^ORnumber!=x"]}, "correlation_ids"),
])
def test_bad_arguments_are_refused_naming_the_option(args, option, tmp_path):
    async def run():
        events = change_events.watch(dict(args, local_db=str(tmp_path / "itsm.sqlite")))
        await events.__anext__()

    with pytest.raises(ItsmValidationError) as raised:
        asyncio.run(run())
    assert raised.value.details["option"] == option


def test_main_ends_with_the_message_not_a_traceback(tmp_path):
    with pytest.raises(SystemExit) as raised:
        asyncio.run(change_events.main(asyncio.Queue(), {"numbers": ["CHG1"], "filters": {"colour": "red"},
                                                         "local_db": str(tmp_path / "itsm.sqlite")}))
    assert "colour" in str(raised.value) and "filters" in str(raised.value)


def test_connection_options_fall_back_to_the_environment():
    settings = change_events.connection_settings(
        {"url": "https://given.example.com"},
        {"ITSM_BACKEND": "servicenow", "ITSM_URL": "https://env.example.com", "ITSM_PASSWORD": "s3cret",
         "ITSM_VALIDATE_CERTS": "false", "ITSM_TIMEOUT": "5"})
    assert (settings.backend, settings.url, settings.password) == ("servicenow", "https://given.example.com", "s3cret")
    assert settings.validate_certs is False and settings.timeout == 5.0


def test_documented_options_are_the_arguments_it_takes():
    import yaml

    documented = yaml.safe_load(change_events.DOCUMENTATION)["options"]
    assert set(documented) == set(change_events.WATCH_OPTIONS) | set(change_events.CONNECTION_OPTIONS)
    examples = yaml.safe_load(change_events.EXAMPLES)
    source = examples[0]["sources"][0]["opsgate.itsm.change_events"]
    assert set(source) <= set(documented)


# -- one request per poll (issue 17), counted by the simulators themselves --------------------------------------

def _simulator(name: str):
    return sn_sim.simulator() if name == "servicenow" else jsm_sim.simulator(name.split("-", 1)[1])


def _requests_of(sim, read) -> tuple[int, t.Any]:
    """What ``read()`` returns, and how many requests the simulator answered meanwhile (its own log)."""
    before = sim.request_count()
    result = read()
    return sim.request_count() - before, result


@pytest.mark.parametrize("name", ["servicenow", "jsm-cloud", "jsm-datacenter"])
def test_a_poll_is_one_request_for_every_watched_correlation_id(name, make_contract_backend):
    """Four correlation ids, two with a change and two without: one request per poll (it was one per id without an
    open change, on top of the find by number). The checkpoint is a file: it costs no request."""
    backend, sim = make_contract_backend(name), _simulator(name)
    assert _requests_of(sim, lambda: None)[0] == 0  # asking the simulator is not counted as a request
    prefix = uuid.uuid4().hex[:10]
    ids = [f"eda-{prefix}-{index}" for index in range(4)]
    first, second = (backend.create("change", {"short_description": f"c{index}", "correlation_id": ids[index]})
                     for index in range(2))
    lag = jsm_sim.CLOUD_INDEX_LAG * 3 if name == "jsm-cloud" else 0.0
    time.sleep(lag)  # Cloud's search index shows a new issue after its lag
    watcher = change_events.Watcher(change_events.Selection({"correlation_ids": ids}), backend,
                                    change_events.Checkpoint(None))

    def poll() -> tuple[int, dict[str, dict]]:
        count, found = _requests_of(sim, watcher.read)
        for event in watcher.events(found, dt.datetime.now(dt.timezone.utc)):
            watcher.commit(event)
        return count, {record["number"]: record for record, named in found}

    count, found = poll()
    assert count == 1 and set(found) == {first["number"], second["number"]}
    backend.transition("change", backend.get("change", id=first["id"]), "canceled")
    third = backend.create("change", {"short_description": "c2", "correlation_id": ids[2]})
    time.sleep(lag)
    count, found = poll()
    assert count == 1 and set(found) == {first["number"], second["number"], third["number"]}
    assert found[first["number"]]["state"] == "canceled"
    count, found = poll()  # the canceled change's holder is history now, and still no request of its own
    assert count == 1 and third["number"] in found


def test_numbers_and_correlation_ids_are_one_request_each_whatever_their_count(local):
    named = [local.create("change", {"short_description": f"n{index}"})["number"] for index in range(3)]
    prefix = uuid.uuid4().hex[:10]
    ids = [f"eda-{prefix}-{index}" for index in range(3)]
    held = local.create("change", {"short_description": "held", "correlation_id": ids[0]})
    counting = CountingBackend(local)
    watcher = change_events.Watcher(change_events.Selection({"numbers": named + [held["number"]],
                                                             "correlation_ids": ids}),
                                    counting, change_events.Checkpoint(None))
    found = watcher.read()
    assert counting.finds == [{"correlation_id": ids}, {"number": named}]  # held came with its correlation id
    assert sorted(record["number"] for record, named_ in found if named_) == sorted(named + [held["number"]])
