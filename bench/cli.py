"""Benchmark how fast the ``tocsin`` command starts and answers, against a bare interpreter.

Run ``python bench/cli.py``. Every row is a fresh process, timed from start to exit with its output read
through a pipe (the last row through a terminal, made with a pseudo-terminal); each figure is the median of
``RUNS`` runs, taken in interleaved rounds in this same process so that a busy machine slows every row alike.
The baseline is ``python -c pass``: what any Python program pays before its first line.

- ``import typer``: the floor under any typer command line;
- ``import tocsin``: the public face, which imports each name on first use;
- ``tocsin --help``: at most 300 ms;
- ``tocsin check examples/tocsin.yaml``: plugins loaded, the config read and checked; at most 500 ms;
- a year of shifts (``tocsin oncall examples/tocsin.yaml primary-oncall --shifts`` over 2026) as JSON, as a
  table in a pipe (plain columns) and as a table on a terminal (drawn with rich): each at most 1.5 s.

Entry-point plugins load as they would for a user (set ``TOCSIN_DISABLE_PLUGIN_AUTOLOAD=1`` to leave them out).
"""

from __future__ import annotations

import os
import pty
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _table import Row, print_table  # bench/ is on the path when run as a script

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "tocsin.yaml"
RUNS = 7
YEAR = ("oncall", str(EXAMPLE), "primary-oncall", "--shifts", "--start", "2026-01-01", "--end", "2027-01-01")


def tocsin_command() -> list[str]:
    """The ``tocsin`` script installed beside this interpreter, as a user runs it; else ``python -m tocsin``."""
    script = Path(sys.executable).with_name("tocsin")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tocsin"]


def run_piped(command: list[str]) -> float:
    """Seconds from start to exit, stdout and stderr read through pipes; a failed command stops the run."""
    began = time.perf_counter()
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, cwd=ROOT)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr.decode(errors='replace')}")
    return seconds


def run_on_terminal(command: list[str]) -> float:
    """Seconds from start to exit with stdout on a pseudo-terminal (read to the end as it is written)."""
    leader, follower = pty.openpty()
    began = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=follower, stderr=subprocess.DEVNULL, cwd=ROOT)
    os.close(follower)
    try:
        while True:
            try:
                if not os.read(leader, 1 << 16):
                    break
            except OSError:  # EIO: the process closed the terminal
                break
        code = process.wait()
    finally:
        os.close(leader)
    seconds = time.perf_counter() - began
    if code != 0:
        raise SystemExit(f"{' '.join(command)} failed on a terminal ({code})")
    return seconds


def main() -> int:
    tocsin = tocsin_command()
    python = sys.executable
    cases: list[tuple[str, list[str], float | None, bool]] = [  # label, command, target seconds, on a terminal
        ("python -c pass", [python, "-c", "pass"], None, False),
        ("python -c 'import typer'", [python, "-c", "import typer"], None, False),
        ("python -c 'import tocsin'", [python, "-c", "import tocsin"], None, False),
        ("tocsin --help", [*tocsin, "--help"], 0.3, False),
        ("tocsin check examples/tocsin.yaml", [*tocsin, "check", str(EXAMPLE)], 0.5, False),
        ("a year of shifts, JSON", [*tocsin, *YEAR, "--json"], 1.5, False),
        ("a year of shifts, table in a pipe", [*tocsin, *YEAR], 1.5, False),
        ("a year of shifts, table on a terminal", [*tocsin, *YEAR], 1.5, True),
    ]
    print(f"command: {' '.join(tocsin)}; median of {RUNS} runs each, interleaved")
    times: dict[str, list[float]] = {label: [] for label, *_ in cases}
    for _label, command, _, terminal in cases:  # warm-up: bytecode caches, the page cache
        (run_on_terminal if terminal else run_piped)(command)
    for _ in range(RUNS):
        for label, command, _, terminal in cases:
            times[label].append((run_on_terminal if terminal else run_piped)(command))
    median = {label: statistics.median(values) for label, values in times.items()}
    baseline = median["python -c pass"]
    rows: list[Row] = []
    for label, _, target, _ in cases:
        seconds = median[label]
        rows.append(
            (
                label,
                f"{seconds * 1e3:,.0f} ms",
                f"{baseline * 1e3:,.0f} ms",
                f"{seconds / baseline:.1f}x",
                f"<= {target * 1e3:,.0f} ms" if target is not None else "",
                target is None or seconds <= target,
            )
        )
    return print_table(rows)


if __name__ == "__main__":
    raise SystemExit(main())
