"""What starting tocsin loads: ``import tocsin`` only the face, each command only what it needs.

Behaviour, not wall time: each test runs a fresh interpreter and looks at ``sys.modules`` (bench/cli.py has the
timings). The package faces import their names on first use (``tocsin._lazy``), so the faces' tables are held
to the imports the type checker reads.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys

import pytest
from support.docs import ROOT
from support.imports import module_files

EXAMPLE = ROOT / "examples" / "tocsin.yaml"
# What only `tocsin serve` (or sending a page) needs: the HTTP server and client stacks, and their metrics.
SERVER_STACK = ("tocsin.server", "uvicorn", "starlette", "prometheus_client", "aiohttp")
# Heavy libraries a command should load only when it uses them: typer's value checks, logging, terminal tables.
HEAVY = ("pydantic", "structlog", "rich")

# Runs the command line in this interpreter, then writes the names of the loaded modules to a file.
PROBE = """
import json, runpy, sys
out = sys.argv.pop(1)
try:
    runpy.run_module("tocsin", run_name="__main__", alter_sys=True)
finally:
    with open(out, "w") as f:
        json.dump(sorted(sys.modules), f)
"""


def loaded_by(tmp_path, *args: str) -> set[str]:
    """The modules ``tocsin ARGS…`` has loaded by the time it exits (entry-point plugins not loaded)."""
    out = tmp_path / "modules.json"
    env = {**os.environ, "TOCSIN_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(out.read_text()))


def loaded_packages(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(name for name in names if any(m == name or m.startswith(name + ".") for m in modules))


def test_import_tocsin_loads_the_face_and_nothing_behind_it():
    script = "import sys, tocsin; print(sorted(m for m in sys.modules if m.startswith('tocsin')))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == str(["tocsin", "tocsin._lazy", "tocsin._moved"])


def test_help_loads_neither_the_config_loader_nor_the_server(tmp_path):
    modules = loaded_by(tmp_path, "--help")
    assert loaded_packages(modules, (*SERVER_STACK, *HEAVY, "tocsin.config", "tocsin.manager", "cattrs", "yaml")) == []


def test_check_loads_no_server_stack_and_no_http_client(tmp_path):
    modules = loaded_by(tmp_path, "check", str(EXAMPLE))  # its webhook channel settings are checked
    assert "tocsin.config.loader" in modules and "tocsin.plugins.channel_webhook" in modules
    assert loaded_packages(modules, (*SERVER_STACK, *HEAVY, "asyncio", "tocsin.escalation.engine")) == []


def test_a_year_of_shifts_in_a_pipe_is_a_plain_table_without_rich(tmp_path):
    args = ("oncall", str(EXAMPLE), "primary-oncall", "--shifts", "--start", "2026-01-01", "--end", "2027-01-01")
    modules = loaded_by(tmp_path, *args)
    assert loaded_packages(modules, (*SERVER_STACK, *HEAVY)) == []


def type_checking_imports(path) -> dict[str, str]:
    """Name -> module for every ``from M import N`` under the face's ``if TYPE_CHECKING:``."""
    found: dict[str, str] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for child in node.body:
                if isinstance(child, ast.ImportFrom):
                    found.update({alias.name: child.module for alias in child.names})
    return found


LAZY_FACES = sorted(
    name
    for name, path in module_files().items()
    if path.name == "__init__.py" and "attach(" in path.read_text(encoding="utf-8")
)


def test_the_lazy_faces_are_the_kernel_and_the_feature_packages():
    assert {"tocsin", "tocsin.config", "tocsin.delivery", "tocsin.escalation", "tocsin.routing"} <= set(LAZY_FACES)


@pytest.mark.parametrize("face", LAZY_FACES)
def test_a_lazy_face_exports_what_its_type_checking_imports_say(face):
    module = importlib.import_module(face)
    declared = type_checking_imports(module_files()[face])
    exports = module._EXPORTS  # the table the interpreter uses
    assert exports == declared  # is the one the type checker reads
    assert sorted(module.__all__) == sorted(declared)
    for name, origin in declared.items():
        assert getattr(module, name) is getattr(importlib.import_module(origin), name), name
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        _ = module.nonexistent


def test_the_ssrf_checks_import_without_aiohttp_and_still_give_the_connector():
    script = (
        "import sys\n"
        "from tocsin.delivery.webhook.ssrf import DestinationPolicy, validate_networks\n"
        "assert 'aiohttp' not in sys.modules\n"
        "from tocsin.delivery.webhook import connector, ssrf\n"
        "assert ssrf.SafeResolver is connector.SafeResolver and ssrf.make_connector is connector.make_connector\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
