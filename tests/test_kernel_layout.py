"""The package layout: one import package, no bare-folder imports, each built-in registered once."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import tocsin
from tocsin.builtins import BUILTIN_PLUGINS

ROOT = Path(__file__).resolve().parent.parent
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


def test_builtin_plugins_import_only_the_public_kernel():
    forbidden = re.compile(
        r"^\s*(?:import|from)\s+tocsin\.(cli|server|plugins\.|targets\.|conditions\.|_)", re.MULTILINE
    )
    offenders = [
        str(p.relative_to(ROOT))
        for p in python_files("plugins", "targets", "conditions")
        if forbidden.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


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
