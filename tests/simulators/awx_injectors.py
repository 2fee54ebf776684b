# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What AWX / Automation Platform does with a custom credential type when a job starts, for the tests.

AWX renders the type's injectors with Jinja against the credential's inputs: each ``file`` template
(``template`` or ``template.<name>``) is written to a file in the job's private data dir, readable by the job's
user only, and its path is ``tower.filename`` (or ``tower.filename.<name>``; ``awx`` is the same object); the
``env`` templates become environment variables of the job (ansible-runner's ``env/envvars``), the
``extra_vars`` templates extra variables (``env/extravars``). Inputs the credential does not set are left out,
except booleans, which take their default. This mirrors the documented behaviour; it is not AWX's code.
"""

from __future__ import annotations

import os
import typing as t

import jinja2
import jinja2.sandbox


def inputs_with_defaults(definition: t.Mapping[str, t.Any], inputs: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The credential's inputs, refused when a required one is missing or unknown; booleans default."""
    fields = {field["id"]: field for field in definition["inputs"]["fields"]}
    unknown = sorted(set(inputs) - set(fields))
    if unknown:
        raise ValueError(f"{definition['name']}: no input named {unknown[0]}")
    missing = [name for name in definition["inputs"].get("required", []) if inputs.get(name) in (None, "")]
    if missing:
        raise ValueError(f"{definition['name']}: missing required input {missing[0]}")
    values = dict(inputs)
    for name, field in fields.items():
        if field.get("type") == "boolean" and name not in values:
            values[name] = field.get("default", False)
    return values


def inject(definition: t.Mapping[str, t.Any], inputs: t.Mapping[str, t.Any],
           private_data_dir: str) -> tuple[dict[str, str], dict[str, t.Any]]:
    """(environment, extra variables) the job gets from a credential of this type; files under private_data_dir/env."""
    environment = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.Undefined)
    context = inputs_with_defaults(definition, inputs)
    injectors = definition.get("injectors") or {}
    files: dict[str, str] = {}
    folder = os.path.join(private_data_dir, "env")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for key, template in (injectors.get("file") or {}).items():
        name = key.split(".", 1)[1] if "." in key else ""
        path = os.path.join(folder, f"credential_file_{name or 'template'}")
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(environment.from_string(template).render(context))
        files[name] = path
    if files:
        filename: t.Any = files[""] if set(files) == {""} else {name: path for name, path in files.items() if name}
        context["tower"] = context["awx"] = {"filename": filename}
    env = {name: environment.from_string(str(template)).render(context)
           for name, template in (injectors.get("env") or {}).items()}
    extra_vars = {name: environment.from_string(str(template)).render(context)
                  for name, template in (injectors.get("extra_vars") or {}).items()}
    return env, extra_vars
