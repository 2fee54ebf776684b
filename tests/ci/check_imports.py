#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check the shape of the imports in plugins/: no circles, and the backends keep to themselves (issue 16).

Reads every plugins/**/*.py with ``ast`` (nothing is imported or run) and resolves relative imports and
``ansible_collections.opsgate.itsm.plugins...`` imports to the collection's own files. It reports, and
exits 1 on any of them:

- import circles: strongly connected components of the graph of imports between the collection's files.
  Every import statement counts, wherever it is (module level, under ``if TYPE_CHECKING``, inside a
  function), since each one ties the two files together; the edges of a circle are listed with their
  line and kind. (The implicit import of a package's ``__init__`` when one of its modules is imported
  is not an edge: a registry ``__init__`` would otherwise make a circle with every module it names.)
- function-level imports in the scoped folders (default ``plugins/module_utils/backends``): an import
  inside a function is a sign that the split between files is wrong (style.md B5).
- private names of another file used in the scoped folders: ``from .x import _name`` (a name that is
  not itself a module), ``x._name`` where ``x`` is an imported module of the collection, and
  ``obj._attr`` (``obj`` not ``self``/``cls``, or ``self.a._attr``) in a file that defines no ``_attr``
  itself (as a function, a class, an assigned attribute or a name). The last is a heuristic: what ``obj``
  is cannot be known statically, so a name the file also defines hides a reach into another file.

``--graph`` also prints the whole import graph (who imports whom, with the kind of each import) and the
function-level imports outside the scoped folders. Usage, from the repository root or anywhere:

    python tests/ci/check_imports.py [--graph] [--scope plugins/module_utils/backends ...]
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import typing as t

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTION_PREFIX = "ansible_collections.opsgate.itsm."
DEFAULT_SCOPES = ("plugins/module_utils/backends",)
# Underscore names that are public API of the standard library's types (namedtuple), not private parts.
PUBLIC_UNDERSCORE = frozenset({"_replace", "_asdict", "_fields", "_make", "_field_defaults"})
TOP, TYPE_ONLY, FUNCTION = "module", "type-checking", "function"


class Import(t.NamedTuple):
    source: str  # module name of the importing file (plugins.module_utils.x)
    target: str  # module name of the imported file
    line: int
    kind: str  # TOP, TYPE_ONLY or FUNCTION
    names: tuple[str, ...]  # names taken from the target (from-imports), else ()


class Finding(t.NamedTuple):
    path: str
    line: int
    text: str


# -- files and module names ------------------------------------------------------------------------

def collect(root: str) -> dict[str, str]:
    """Module name (``plugins.module_utils._cmdb``; a package by its own name) -> path relative to root."""
    modules = {}
    for folder, dirs, files in os.walk(os.path.join(root, "plugins")):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.relpath(os.path.join(folder, name), root)
                parts = path[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                modules[".".join(parts)] = path
    return modules


def package_of(module: str, path: str) -> str:
    return module if path.endswith("__init__.py") else module.rpartition(".")[0]


def absolute(module: str, path: str, level: int, name: str | None) -> str | None:
    """The absolute module name an import refers to, or None when it is outside the collection."""
    if level:
        base = package_of(module, path)
        for _unused in range(level - 1):
            base = base.rpartition(".")[0]
        return f"{base}.{name}" if name else base
    if name and name.startswith(COLLECTION_PREFIX + "plugins"):
        return name[len(COLLECTION_PREFIX):]
    return None


# -- reading one file ------------------------------------------------------------------------------

class FileReader(ast.NodeVisitor):
    """The imports of one file with where they stand, and the names it uses and defines."""

    def __init__(self, module: str, path: str, modules: t.Mapping[str, str]):
        self.module, self.path, self.modules = module, path, modules
        self.imports: list[Import] = []
        self.aliases: dict[str, str] = {}  # local name -> collection module it is bound to
        self.defined: set[str] = set()
        self.private_uses: list[tuple[int, str, str]] = []  # (line, owner expression, attribute)
        self.function_level: list[Finding] = []  # every import inside a function, the standard library's too
        self._functions = 0
        self._type_only = 0

    # where an import stands

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.defined.add(node.name)
        self.defined.update(arg.arg for arg in node.args.posonlyargs + node.args.args + node.args.kwonlyargs)
        self._functions += 1
        self.generic_visit(node)
        self._functions -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._functions += 1
        self.generic_visit(node)
        self._functions -= 1

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.defined.add(node.name)
        self.generic_visit(node)

    def visit_If(self, node: ast.If) -> None:
        test = ast.unparse(node.test)
        if test in ("TYPE_CHECKING", "t.TYPE_CHECKING", "typing.TYPE_CHECKING"):
            self._type_only += 1
            for child in node.body:
                self.visit(child)
            self._type_only -= 1
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def _kind(self) -> str:
        return FUNCTION if self._functions else TYPE_ONLY if self._type_only else TOP

    # imports

    def visit_Import(self, node: ast.Import) -> None:
        self._note_function_level(node)
        for alias in node.names:
            target = absolute(self.module, self.path, 0, alias.name)
            if target in self.modules:
                self._edge(target, node.lineno, ())
                if alias.asname:
                    self.aliases[alias.asname] = target
            self.defined.add((alias.asname or alias.name).split(".", 1)[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._note_function_level(node)
        base = absolute(self.module, self.path, node.level, node.module)
        for alias in node.names:
            local = alias.asname or alias.name
            self.defined.add(local)
            if base is None:
                continue
            submodule = f"{base}.{alias.name}"
            if submodule in self.modules:  # from package import module
                self._edge(submodule, node.lineno, ())
                self.aliases[local] = submodule
            elif base in self.modules:
                self._edge(base, node.lineno, (alias.name,))

    def _note_function_level(self, node: ast.Import | ast.ImportFrom) -> None:
        if self._functions:
            self.function_level.append(Finding(self.path, node.lineno, ast.unparse(node)))

    def _edge(self, target: str, line: int, names: tuple[str, ...]) -> None:
        if target != self.module:
            self.imports.append(Import(self.module, target, line, self._kind(), names))

    # names defined and private attributes used

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._define(target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._define(node.target)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._define(node.target)
        self.generic_visit(node)

    def _define(self, target: ast.AST) -> None:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                self.defined.add(node.id)
            elif isinstance(node, ast.Attribute):
                self.defined.add(node.attr)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = node.attr
        if name.startswith("_") and not name.startswith("__") and name not in PUBLIC_UNDERSCORE:
            owner = ast.unparse(node.value)
            if owner not in ("self", "cls"):
                self.private_uses.append((node.lineno, owner, name))
        self.generic_visit(node)


def read(root: str, modules: t.Mapping[str, str]) -> dict[str, FileReader]:
    readers = {}
    for module, path in modules.items():
        with open(os.path.join(root, path), encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename=path)
        reader = FileReader(module, path, modules)
        reader.visit(tree)
        readers[module] = reader
    return readers


# -- checks ----------------------------------------------------------------------------------------

def circles(readers: t.Mapping[str, FileReader]) -> list[list[str]]:
    """Strongly connected components of more than one file (Tarjan), each sorted, in a stable order."""
    graph = {module: sorted({edge.target for edge in reader.imports}) for module, reader in readers.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for following in graph.get(node, []):
            if following not in index:
                connect(following)
                low[node] = min(low[node], low[following])
            elif following in on_stack:
                low[node] = min(low[node], index[following])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(found)


def in_scope(path: str, scopes: t.Sequence[str]) -> bool:
    return any(path == scope or path.startswith(scope.rstrip("/") + "/") for scope in scopes)


def function_imports(readers: t.Mapping[str, FileReader], scopes: t.Sequence[str],
                     inside: bool = True) -> list[Finding]:
    """Imports inside functions (collection and standard library alike), in or outside the scopes."""
    return sorted(finding for reader in readers.values() if in_scope(reader.path, scopes) == inside
                  for finding in reader.function_level)


def private_reaches(readers: t.Mapping[str, FileReader], scopes: t.Sequence[str]) -> list[Finding]:
    findings = []
    for reader in readers.values():
        if not in_scope(reader.path, scopes):
            continue
        for edge in reader.imports:
            for name in edge.names:
                if name.startswith("_") and not name.startswith("__"):
                    text = f"imports private {name} from {readers[edge.target].path}"
                    findings.append(Finding(reader.path, edge.line, text))
        seen = set()
        for line, owner, name in reader.private_uses:
            root_name = owner.split(".", 1)[0].split("(", 1)[0]
            module = reader.aliases.get(owner)
            if module is not None and module != reader.module:
                text = f"{owner}.{name}: private name of {readers[module].path}"
            elif name not in reader.defined and (owner != root_name or root_name not in ("self", "cls")):
                text = f"{owner}.{name}: {name} is not defined in this file (another file's private part?)"
            else:
                continue
            if (line, text) not in seen:
                seen.add((line, text))
                findings.append(Finding(reader.path, line, text))
    return sorted(findings)


# -- report ----------------------------------------------------------------------------------------

def print_graph(readers: t.Mapping[str, FileReader], scopes: t.Sequence[str]) -> None:
    print("import graph (file: imported files; [type-checking], [function] mark where the import stands):")
    for module in sorted(readers):
        reader = readers[module]
        targets: dict[str, set[str]] = {}
        for edge in reader.imports:
            targets.setdefault(readers[edge.target].path, set()).add(edge.kind)
        if not targets:
            continue
        print(f"  {reader.path}")
        for path in sorted(targets):
            kinds = sorted(targets[path] - {TOP})
            print(f"      -> {path}" + (f" [{', '.join(kinds)}]" if kinds else ""))
    print("imported by (file: files importing it):")
    importers: dict[str, set[str]] = {}
    for reader in readers.values():
        for edge in reader.imports:
            importers.setdefault(readers[edge.target].path, set()).add(reader.path)
    for path in sorted(importers):
        print(f"  {path} <- {len(importers[path])}: {', '.join(sorted(importers[path]))}")
    outside = function_imports(readers, scopes, inside=False)
    if outside:
        print("function-level imports outside the scoped folders (not a failure):")
        for finding in outside:
            print(f"  {finding.path}:{finding.line}: {finding.text}")
    print()


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--graph", action="store_true", help="also print the whole import graph")
    parser.add_argument("--scope", action="append", help="folder (relative to the repository) whose function-level "
                        "imports and private reaches are findings; repeatable; default: " + ", ".join(DEFAULT_SCOPES))
    parser.add_argument("--root", default=ROOT, help="the repository (default: the one holding this script)")
    options = parser.parse_args(argv)
    scopes = tuple(options.scope or DEFAULT_SCOPES)
    modules = collect(options.root)
    readers = read(options.root, modules)
    if options.graph:
        print_graph(readers, scopes)

    problems = 0
    found = circles(readers)
    print(f"import circles: {len(found)}")
    for number, component in enumerate(found, 1):
        members = set(component)
        print(f"  circle {number}: {', '.join(readers[module].path for module in component)}")
        for module in component:
            for line, target, kind in sorted({(edge.line, edge.target, edge.kind) for edge in readers[module].imports
                                              if edge.target in members}):
                print(f"      {readers[module].path}:{line} -> {readers[target].path} ({kind})")
    problems += len(found)

    for title, findings in (
            (f"function-level imports in {', '.join(scopes)}", function_imports(readers, scopes)),
            (f"private names of another file used in {', '.join(scopes)}", private_reaches(readers, scopes))):
        print(f"{title}: {len(findings)}")
        for finding in findings:
            print(f"  {finding.path}:{finding.line}: {finding.text}")
        problems += len(findings)

    print(f"{len(modules)} files read; " + (f"{problems} findings" if problems else "no findings"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
