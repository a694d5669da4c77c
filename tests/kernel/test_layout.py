"""The package layout: one import package, no bare-folder imports, each built-in registered once."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from support.docs import ROOT, code_blocks
from support.imports import cycles, import_graph, imported_names, module_files

import tocsin
from tocsin._moved import MOVED
from tocsin.builtins import BUILTIN_PLUGINS

FOLDERS = ("core", "plugins", "targets", "conditions")
BARE_IMPORT = re.compile(r"^\s*(?:import|from)\s+(core|plugins|targets|conditions)(?:\.|\s|$)", re.MULTILINE)


def python_files(*folders: str) -> list[Path]:
    return [path for folder in folders for path in (ROOT / folder).rglob("*.py")]


def test_no_code_imports_the_folders_by_bare_name():
    offenders = []
    for path in python_files(*FOLDERS, "tests", "bench"):
        for match in BARE_IMPORT.finditer(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(ROOT)}: {match.group(0).strip()}")
    assert offenders == []


def test_the_kernel_never_imports_a_builtin_plugin_module():
    pattern = re.compile(r"^\s*(?:import|from)\s+tocsin\.(plugins|targets|conditions)\b", re.MULTILINE)
    offenders = [str(p.relative_to(ROOT)) for p in python_files("core") if pattern.search(p.read_text())]
    assert offenders == []


def documented_plugin_modules() -> set[str]:
    """The modules docs/plugins.md's "What a plugin imports" table names."""
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = guide[guide.index("## What a plugin imports") :]
    section = section[: section.index("\n## ", 1)]
    return set(re.findall(r"^\| `(tocsin(?:\.[\w.]+)?)` \|", section, re.MULTILINE))


def test_the_plugin_guide_documents_what_a_plugin_imports():
    modules = documented_plugin_modules()
    assert "tocsin" in modules
    for name in modules:
        importlib.import_module(name)


def test_builtin_plugins_import_only_the_documented_modules():
    allowed = documented_plugin_modules()
    files = module_files()
    offenders = []
    for name, path in files.items():
        if not name.startswith(("tocsin.plugins.", "tocsin.targets.", "tocsin.conditions.")):
            continue
        for imported, line in imported_names(name, path):
            if not imported.startswith("tocsin.") and imported != "tocsin":
                continue  # the standard library and third-party packages
            module = imported if imported in files else imported.rpartition(".")[0]
            if module not in allowed:
                offenders.append(f"{path.relative_to(ROOT)}:{line}: imports {module}")
    assert offenders == []


def test_no_import_cycle_anywhere_in_the_package():
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle_when_there_is_one():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def packages_on_disk() -> set[str]:
    return {name for name, path in module_files().items() if path.name == "__init__.py"}


def test_the_architecture_page_lists_every_feature_package():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    owns = page[page.index("## What each package owns") : page.index("## Where a new feature goes")]
    listed = set(re.findall(r"^\| `(tocsin\.\w+)` \|", owns, re.MULTILINE))
    nested = set(re.findall(r"`(tocsin\.\w+\.\w+)` is", owns))
    features = {name for name in packages_on_disk() if name.count(".") == 1}
    features -= {"tocsin.plugins", "tocsin.targets", "tocsin.conditions"}
    assert listed == features
    assert nested == {name for name in packages_on_disk() if name.count(".") == 2}


def test_the_architecture_page_prints_the_moved_paths_table():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(tocsin\.[\w.]+)` \| `(tocsin\.[\w.]+)` \|$", page, re.MULTILINE))
    assert rows == MOVED


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_an_old_module_path_still_imports_as_the_new_module(old, new):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=re.escape(new)):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


DOCUMENTED_IMPORT = re.compile(
    r"^\s*from (tocsin(?:\.[\w.]+)?) import \(?([\w, \n]+?)\)?$|^\s*import (tocsin(?:\.[\w.]+)?)$", re.M
)
DOCUMENTED_NAME = re.compile(r"`(tocsin(?:\.[a-z_]\w*)+)`")


def documented_imports() -> set[tuple[str, str]]:
    """Every ``(module, name)`` the docs import or mention: code blocks and inline ``tocsin.x.y`` names."""
    found: set[tuple[str, str]] = set()
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for block in code_blocks(text, "python"):
            for module, names, plain in DOCUMENTED_IMPORT.findall(block):
                if plain:
                    found.add((plain, ""))
                for imported in names.replace("\n", " ").split(","):
                    if imported.strip():
                        found.add((module, imported.split(" as ")[0].strip()))
        found.update((dotted, "") for dotted in DOCUMENTED_NAME.findall(text))
    return found


@pytest.mark.parametrize(("module", "name"), sorted(documented_imports()))
def test_every_public_name_the_docs_mention_imports(module, name):
    if not name:
        # `tocsin.x.y`: a module, or a name in the module before the last dot.
        try:
            importlib.import_module(module)
            return
        except ImportError:
            module, _, name = module.rpartition(".")
    assert hasattr(importlib.import_module(module), name), f"{module} has no {name}"


def test_each_builtin_plugin_is_listed_and_registered_once():
    assert len(BUILTIN_PLUGINS) == len(set(BUILTIN_PLUGINS))
    plugins = tocsin.load_plugins(autoload=False)
    names = [info.name for info in plugins.info]
    assert plugins.failures == []
    assert names == list(BUILTIN_PLUGINS)
    assert all(plugins.manager.get_plugin(name) is not None for name in BUILTIN_PLUGINS)


def test_every_builtin_module_on_disk_is_in_the_builtin_list():
    on_disk = {
        f"tocsin.{folder}.{path.stem}"
        for folder in ("plugins", "targets", "conditions")
        for path in (ROOT / folder).glob("*.py")
        if not path.stem.startswith("_")
    }
    assert on_disk == set(BUILTIN_PLUGINS)


def test_the_wheel_maps_the_folders_onto_one_package(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("tocsin-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for package in ("tocsin", "tocsin/plugins", "tocsin/targets", "tocsin/conditions"):
        assert f"{package}/__init__.py" in names
    for folder, package in (
        ("core", "tocsin"),
        ("plugins", "tocsin/plugins"),
        ("targets", "tocsin/targets"),
        ("conditions", "tocsin/conditions"),
    ):
        for path in (ROOT / folder).rglob("*.py"):
            assert f"{package}/{path.relative_to(ROOT / folder).as_posix()}" in names, path
    assert not any(name.startswith(("core/", "plugins/", "targets/", "conditions/")) for name in names)
    console = ROOT / "core" / "server" / "console"
    shipped = [path for folder in ("templates", "static") for path in (console / folder).iterdir()]
    assert shipped
    for path in shipped:  # the web console's pages and files are package data
        assert f"tocsin/{path.relative_to(ROOT / 'core').as_posix()}" in names, path
