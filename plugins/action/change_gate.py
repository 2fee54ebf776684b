# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carries out opsgate.itsm.change_gate on the controller (the work is in module_utils/runners/change_gate.py).

The only part of the gate that knows about the play: it resolves the hosts the play touches to CI
names through their host variables, and shows the wait's progress lines on the console.
"""

from __future__ import annotations

import typing as t

from ansible.utils.display import Display

from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_gate
from ansible_collections.opsgate.itsm.plugins.plugin_utils._action import ItsmAction

display = Display()


class ActionModule(ItsmAction):
    runner = change_gate
    one_transaction = False

    def run_task(self, params: dict, backend, task_vars: dict, warn: t.Callable[[str], None]) -> dict:
        hosts = ci_names(params.get("hosts"), params["ci_name_var"], task_vars)
        return self.runner.run(params, backend, check_mode=bool(self._task.check_mode), warn=warn, hosts=hosts,
                               progress=display.display)


def ci_names(hosts: list[str] | None, variable: str, task_vars: t.Mapping[str, t.Any]) -> dict[str, str]:
    """Host name -> CI name: the host's ``variable`` if set, else its inventory name.

    Without a ``hosts`` option, every host the play targets (``ansible_play_hosts_all``: a gate runs
    before the work, and a host that fails later was still in scope).
    """
    names = hosts if hosts is not None else task_vars.get("ansible_play_hosts_all") or []
    hostvars = task_vars.get("hostvars") or {}
    mapping = {}
    for name in names:
        host_vars = hostvars[name] if name in hostvars else {}
        value = host_vars.get(variable)
        mapping[str(name)] = str(value) if value not in (None, "") else str(name)
    return mapping
