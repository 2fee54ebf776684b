"""Call a module's run() the way its action plugin does: with validated parameters; a double of the contract."""

from unittest import mock

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings, connection_argument_spec
from ansible_collections.opsgate.itsm.plugins.module_utils.backends._base import ItsmBackend


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


@pytest.fixture
def backend_double():
    """A double of the backend contract (ItsmBackend), for runner tests that need no store: it has exactly the
    contract's methods with their signatures (a call the contract does not allow fails), answers what a test
    sets, and records what the runner asked for in ``method_calls``."""
    double = mock.create_autospec(ItsmBackend, instance=True)
    double.name = "double"
    double.capabilities = frozenset({"approvals", "affected_cis", "blackouts"})
    double.settings = ConnectionSettings(backend="local", username="tester")
    return double


@pytest.fixture
def double_task(backend_double):
    return Task(backend_double)
