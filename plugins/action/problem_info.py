# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carries out opsgate.itsm.problem_info on the controller (the work is in module_utils/runners/problem_info.py)."""

from __future__ import annotations

from ansible_collections.opsgate.itsm.plugins.module_utils.runners import problem_info
from ansible_collections.opsgate.itsm.plugins.plugin_utils._action import ItsmAction


class ActionModule(ItsmAction):
    runner = problem_info
    one_transaction = False
