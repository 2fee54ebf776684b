# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of every opsgate.itsm action plugin. FOR INTERNAL COLLECTION USE ONLY.

Each module is carried out on the controller: validate the arguments against the spec built from
the connection options table plus the module's own spec, build the selected backend, call the
module's pure ``run()``, and turn the collection's errors into a failed result. Secrets (no_log
values and the connection's credentials) are removed from everything returned.
"""

from __future__ import annotations

import contextlib
import os
import types
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import (
    ConnectionSettings,
    connection_argument_spec,
    refuse_mistyped,
)
from ansible_collections.opsgate.itsm.plugins.module_utils._records import refuse_empty
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend
from ansible_collections.opsgate.itsm.plugins.plugin_utils._home import publish_ansible_home


class ItsmAction(ActionBase):
    """Subclasses set ``runner``: a module_utils.runners module with ARGUMENT_SPEC and run()."""

    TRANSFERS_FILES = False
    _requires_connection = False
    runner: types.ModuleType
    #: the task's writes are one transaction where the backend can (backend.task(): on local a process killed
    #: mid-task leaves all of it or none). Off for a task that reads only, waits (the change gate: others must
    #: write meanwhile) or sends each item on its own (the outbox: an item is marked delivered once it is stored).
    one_transaction = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        warnings: list[str] = []
        secrets: set[str] = set()
        publish_ansible_home()
        try:
            params = self._validated_params(secrets)
            settings = ConnectionSettings.from_mapping(params)
            secrets.update(settings.secrets())
            backend = build_backend(settings, warn=warnings.append)
            try:
                one = self.one_transaction and not self._task.check_mode
                with backend.task() if one else contextlib.nullcontext():
                    result.update(self.run_task(params, backend, task_vars or {}, warnings.append))
            finally:
                backend.close()
        except ItsmError as error:
            result.update(failed=True, msg=error.message, **error.details)
        except AnsibleActionFail as error:
            result.update(failed=True, msg=error.message)
        if warnings:
            result["warnings"] = result.get("warnings", []) + warnings
        return remove_values(result, secrets) if secrets else result

    def run_task(self, params: dict, backend, task_vars: dict, warn: t.Callable[[str], None]) -> dict:
        """Call the module's run(); the change gate overrides this to pass the play's hosts."""
        return self.runner.run(params, backend, check_mode=bool(self._task.check_mode), warn=warn)

    def _validated_params(self, secrets: set[str]) -> dict:
        spec = dict(connection_argument_spec(), **self.runner.ARGUMENT_SPEC)
        # Collected before validation: a validation message may quote a value given for a no_log option.
        secrets.update(_given_secrets(spec, self._task.args))
        # Checked first: ansible-core's message for these names its internal classes (issue 12).
        refuse_mistyped(spec, self._task.args)
        validation, params = self.validate_argument_spec(
            argument_spec=spec, **getattr(self.runner, "ARGUMENT_RULES", {})
        )
        secrets.update(str(value) for value in validation._no_log_values)
        refuse_empty(params)  # an empty number would create a record instead of naming one (issue 12)
        return params


def _given_secrets(spec: dict, args: t.Mapping[str, t.Any]) -> set[str]:
    # A list, not a set: a value of the wrong type (a list, a dict) is validation's to refuse, not a TypeError here.
    values = [args.get(name) for name, option in spec.items() if option.get("no_log")]
    values += [os.environ.get(option["fallback"][1][0]) for option in spec.values()
               if option.get("no_log") and "fallback" in option]
    return {str(value) for value in values if value}
