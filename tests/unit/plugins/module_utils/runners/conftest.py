"""Call a module's run() the way its action plugin does: with validated parameters."""

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.opsgate.itsm.plugins.module_utils._options import connection_argument_spec


class Task:
    """Runs one runner with validated arguments against a backend, collecting warnings."""

    def __init__(self, backend):
        self.backend = backend
        self.warnings = []

    def params(self, runner, **args):
        spec = dict(connection_argument_spec(), **runner.ARGUMENT_SPEC)
        result = ArgumentSpecValidator(spec, **getattr(runner, "ARGUMENT_RULES", {})).validate(args)
        if result.error_messages:
            raise ValueError("; ".join(result.error_messages))
        return result.validated_parameters

    def __call__(self, runner, check_mode=False, **args):
        return runner.run(self.params(runner, **args), self.backend, check_mode=check_mode,
                          warn=self.warnings.append)


@pytest.fixture
def task(local_backend):
    return Task(local_backend)
