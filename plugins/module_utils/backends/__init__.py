# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backend registry: the ``backend`` option's value -> the class. FOR INTERNAL COLLECTION USE ONLY.

Only the selected backend's package is imported, and only when a backend is built: a ``local`` run never
imports ``requests`` or the ServiceNow code (the recorder's start spent most of its time importing backends
it did not use). Every ``from ..backends._base import`` runs this file first, so it imports nothing heavy.

House style A2 asks for static imports of every backend, because AnsiballZ ships to a target only the
module_utils a module imports statically. No opsgate.itsm module goes through AnsiballZ: every module is an
action plugin that runs on the controller (plugins/modules/*.py hold its documentation), and the inventory
and callback plugins run there too. So A2's own exception applies: ``importlib.import_module`` is acceptable
in controller-side code.
"""

from __future__ import annotations

import importlib

from .._errors import ItsmUnavailableError
from .._options import ConnectionSettings
from ._base import ItsmBackend, Warn

#: the ``backend`` option's value -> (its package under this one, the class it exports). A package names its
#: class ``BACKEND``; the class name is the fallback for one that does not (yet).
_PACKAGES: dict[str, tuple[str, str]] = {
    "local": ("local", "LocalBackend"),
    "servicenow": ("servicenow", "ServiceNowBackend"),
    "jsm": ("jsm", "JsmBackend"),
}
#: the backend names a user may give
NAMES = tuple(sorted(_PACKAGES))


def backend_class(name: str) -> type[ItsmBackend]:
    """The class of the backend ``name`` (one of NAMES), importing its package now."""
    package, class_name = _PACKAGES[name]
    module = importlib.import_module(f".{package}", __name__)
    return getattr(module, "BACKEND", None) or getattr(module, class_name)


def build_backend(settings: ConnectionSettings, warn: Warn | None = None) -> ItsmBackend:
    if settings.backend not in _PACKAGES:
        raise ItsmUnavailableError(f"backend: {settings.backend!r} cannot be used; expected one of: "
                                   + ", ".join(NAMES),
                                   option="backend", value=settings.backend)
    return backend_class(settings.backend)(settings, warn=warn)
