"""The options table feeds the module argspec, the plugin options and the doc fragment alike."""

import copy
import glob
import importlib
import os
import re
import subprocess
import sys
import types

import pytest
import yaml
from ansible.module_utils.basic import env_fallback

from ansible_collections.opsgate.itsm.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.opsgate.itsm.plugins.module_utils._options import (
    CONNECTION_OPTIONS,
    SECRET_OPTIONS,
    ConnectionSettings,
    connection_argument_spec,
    default_local_db,
)

EXPECTED_ENV = {
    "backend": "ITSM_BACKEND", "url": "ITSM_URL", "username": "ITSM_USERNAME", "password": "ITSM_PASSWORD",
    "token": "ITSM_TOKEN", "api_key": "ITSM_API_KEY", "client_id": "ITSM_CLIENT_ID",
    "client_secret": "ITSM_CLIENT_SECRET", "validate_certs": "ITSM_VALIDATE_CERTS", "ca_path": "ITSM_CA_PATH",
    "proxy": "ITSM_PROXY",
    "timeout": "ITSM_TIMEOUT", "retries": "ITSM_RETRIES", "local_db": "ITSM_LOCAL_DB", "jsm_mapping": "ITSM_JSM_MAPPING",
}

ACTION_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "action")
ACTION_NAMES = sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(ACTION_DIR, "[a-z]*.py")))


def test_table_has_the_issue_options_and_env_names():
    assert {name: option["env"] for name, option in CONNECTION_OPTIONS.items()} == EXPECTED_ENV


def test_secrets_are_no_log():
    assert set(SECRET_OPTIONS) == {"password", "token", "api_key", "client_secret"}


# -- the three sources of the connection options, projected onto the same shape --------------------
# The table (CONNECTION_OPTIONS), the argspec an action plugin really validates against at run time,
# and the doc fragment users read. Each is read independently; the tests compare them pairwise.

FIELDS = ("type", "default", "choices", "env", "no_log", "description")
ENV_SENTENCE = re.compile(r"\s*If not set, the value of the C\((ITSM_[A-Z_]+)\) environment variable is used\.$")


def from_table(table=None) -> dict:
    table = CONNECTION_OPTIONS if table is None else table
    return {name: {"type": option["type"], "default": option.get("default"), "choices": option.get("choices"),
                   "env": option["env"], "no_log": bool(option.get("no_log")), "description": option["description"]}
            for name, option in table.items()}


def runtime_argspec(action_name: str) -> dict:
    """The argument spec the action plugin hands to validate_argument_spec, captured on its real code path."""
    module = importlib.import_module(f"ansible_collections.opsgate.itsm.plugins.action.{action_name}")
    action = module.ActionModule.__new__(module.ActionModule)
    action._task = types.SimpleNamespace(args={})
    captured = {}

    def capture(argument_spec, **_rules):
        captured.update(argument_spec)
        raise LookupError("captured")

    action.validate_argument_spec = capture
    with pytest.raises(LookupError):
        action._validated_params(set())
    return captured


def from_argspec(spec: dict) -> dict:
    projected = {}
    for name in CONNECTION_OPTIONS:
        option = spec[name]
        function, env_names = option["fallback"]
        assert function is env_fallback, name
        projected[name] = {"type": option["type"], "default": option.get("default"), "choices": option.get("choices"),
                           "env": env_names[0] if len(env_names) == 1 else env_names,
                           "no_log": bool(option.get("no_log")), "description": None}
    return projected


def from_fragment(text: str = ModuleDocFragment.DOCUMENTATION) -> dict:
    doc = yaml.safe_load(text)
    secret_note = next(note for note in doc["notes"] if "never shown" in note)
    secrets = set(re.findall(r"C\((\w+)\)", secret_note))
    projected = {}
    for name, option in doc["options"].items():
        description = " ".join(option["description"])
        env = ENV_SENTENCE.search(description)
        projected[name] = {"type": option["type"], "default": option.get("default"), "choices": option.get("choices"),
                           "env": env.group(1) if env else None, "no_log": name in secrets,
                           "description": ENV_SENTENCE.sub("", description)}
    return projected


def differences(left: dict, right: dict, fields=FIELDS) -> list[str]:
    found = [f"option {name}: only in one source" for name in sorted(set(left) ^ set(right))]
    found += [f"option {name}: {field} {left[name][field]!r} != {right[name][field]!r}"
              for name in sorted(set(left) & set(right)) for field in fields if left[name][field] != right[name][field]]
    if list(left) != list(right) and not found:
        found.append(f"order differs: {list(left)} != {list(right)}")
    return found


RUNTIME_FIELDS = tuple(field for field in FIELDS if field != "description")


@pytest.mark.parametrize("action_name", ACTION_NAMES)
def test_runtime_argspec_matches_the_table_and_the_fragment(action_name):
    runtime = from_argspec(runtime_argspec(action_name))
    assert differences(runtime, from_table(), RUNTIME_FIELDS) == []
    assert differences(runtime, from_fragment(), RUNTIME_FIELDS) == []


def test_module_fragment_matches_table_including_descriptions():
    assert differences(from_fragment(), from_table()) == []


@pytest.mark.parametrize("mutate", [
    lambda table: table["timeout"].update(default=60.0),
    lambda table: table["url"].update(env="ITSM_ENDPOINT"),
    lambda table: table["token"].pop("no_log"),
    lambda table: table["backend"].update(description="Where records live."),
    lambda table: table["retries"].update(type="str"),
], ids=["default", "env", "no_log", "description", "type"])
def test_the_cross_check_notices_a_changed_table(mutate):
    table = copy.deepcopy(CONNECTION_OPTIONS)
    mutate(table)
    assert differences(from_fragment(), from_table(table))


def test_the_cross_check_notices_a_changed_fragment():
    edited = ModuleDocFragment.DOCUMENTATION.replace("C(ITSM_RETRIES)", "C(ITSM_RETRY)")
    assert differences(from_fragment(edited), from_table()) == ["option retries: env 'ITSM_RETRY' != 'ITSM_RETRIES'"]


def test_the_cross_check_notices_a_changed_runtime_argspec(monkeypatch):
    from ansible_collections.opsgate.itsm.plugins.plugin_utils import _action

    def changed_spec():
        spec = connection_argument_spec()
        spec["password"].pop("no_log")
        return spec

    monkeypatch.setattr(_action, "connection_argument_spec", changed_spec)
    runtime = from_argspec(runtime_argspec("incident"))
    assert differences(runtime, from_table(), RUNTIME_FIELDS) == ["option password: no_log False != True"]


def test_plugin_fragment_reads_the_same_env_and_ini():
    options = yaml.safe_load(ModuleDocFragment.PLUGINS)["options"]
    assert list(options) == list(CONNECTION_OPTIONS)
    for name, sources in options.items():
        assert sources["env"] == [{"name": CONNECTION_OPTIONS[name]["env"]}]
        assert sources["ini"] == [{"section": "opsgate_itsm", "key": name}]


def test_settings_from_plugin_and_module_agree():
    values = {"backend": "servicenow", "url": "https://x.example", "password": "s3cret", "retries": 5}
    from_module = ConnectionSettings.from_mapping(values)
    from_plugin = ConnectionSettings.from_plugin(values.get)
    assert from_module == from_plugin
    assert "s3cret" not in repr(from_module)
    assert from_module.secrets() == ["s3cret"]


def test_every_module_has_an_action_plugin_to_check():
    assert len(ACTION_NAMES) >= 10


def default_local_db_in_subprocess(tmp_path, env_home=None):
    """default_local_db() after a controller entry point's publish_ansible_home(), in a fresh interpreter whose ansible.cfg sets `home`."""
    config = tmp_path / "ansible.cfg"
    config.write_text(f"[defaults]\nhome = {tmp_path / 'cfg-home'}\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(config), PYTHONPATH=os.pathsep.join(sys.path))
    if env_home:
        env["ANSIBLE_HOME"] = env_home
    code = ("from ansible_collections.opsgate.itsm.plugins.plugin_utils._home import publish_ansible_home;"
            "from ansible_collections.opsgate.itsm.plugins.module_utils._options import default_local_db;"
            "publish_ansible_home(); print(default_local_db())")
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_default_local_db_follows_home_in_ansible_cfg(tmp_path):
    assert default_local_db_in_subprocess(tmp_path) == str(tmp_path / "cfg-home" / "opsgate_itsm" / "itsm.sqlite")


def test_ansible_home_in_the_environment_wins_over_ansible_cfg(tmp_path):
    chosen = default_local_db_in_subprocess(tmp_path, env_home=str(tmp_path / "env-home"))
    assert chosen == str(tmp_path / "env-home" / "opsgate_itsm" / "itsm.sqlite")


def test_default_local_db_is_under_ansible_home_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ANSIBLE_HOME", str(tmp_path))
    assert default_local_db() == str(tmp_path / "opsgate_itsm" / "itsm.sqlite")
