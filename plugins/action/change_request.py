# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carries out opsgate.itsm.change_request on the controller (the work is in module_utils/runners/change_request.py)."""

from __future__ import annotations

import os

from ansible_collections.opsgate.itsm.plugins.module_utils import _pipeline as pipeline
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_request
from ansible_collections.opsgate.itsm.plugins.plugin_utils._action import ItsmAction


class ActionModule(ItsmAction):
    runner = change_request

    def run_task(self, params, backend, task_vars, warn):
        # ``pipeline: true`` reads the CI environment here, on the controller, where the CI job runs
        # ansible-playbook (and the AWX job template and user from the play's variables); the runner stays pure.
        if change_request.reads_environment(params.get("pipeline")):
            params = dict(params, pipeline=pipeline.detect(os.environ, task_vars))
        return super().run_task(params, backend, task_vars, warn)
