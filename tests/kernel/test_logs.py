"""tocsin.logs writes each event as one JSON line on stderr; in a running event loop the lines an iteration
logs are written together, with one flush, once the loop is done with what it was doing. An error log's
traceback is plain text, never rendered with its frames' locals, whether logging was configured or not."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import asyncio, json, sys

class Counting:
    def __init__(self, inner):
        self.inner, self.writes, self.flushes = inner, 0, 0
    def write(self, text):
        self.writes += 1
        return self.inner.write(text)
    def flush(self):
        self.flushes += 1
        self.inner.flush()
    def isatty(self):
        return False

counting = sys.stderr = Counting(sys.stderr)
from tocsin.logs import configure_logging, get_logger
configure_logging(json=True)
log = get_logger(component="test")

log.info("outside", n=0)
log.info("outside", n=1)
outside = (counting.writes, counting.flushes)

async def request():
    for n in range(5):
        log.info("inside", n=n)
    written_meanwhile = counting.writes
    await asyncio.sleep(0)  # the loop runs what is ready: the lines are written
    return written_meanwhile

meanwhile = asyncio.run(request())
print(json.dumps({"outside": outside, "meanwhile": meanwhile - outside[0], "after": counting.writes - outside[0]}))
"""


def test_lines_logged_in_one_loop_iteration_are_written_once_and_in_order():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    assert counts["outside"] == [2, 2]  # no loop: each line written and flushed at once
    assert counts["meanwhile"] == 0  # nothing written while the request ran ...
    assert counts["after"] == 1  # ... then its five lines in one write
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(line["event"], line["n"]) for line in lines] == [("outside", 0), ("outside", 1)] + [
        ("inside", n) for n in range(5)
    ]
    assert all(line["level"] == "info" and line["component"] == "test" for line in lines)


def run_python(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)


FAILING = """
import time
def handler():
    payload = [[[[["a secret local: 0451"]]]]] * 400
    for _ in range(400):
        payload = [payload]
    1 / 0
started = time.perf_counter()
try:
    handler()
except ZeroDivisionError:
    LOG.exception("request failed", method="POST", route="/v1/incidents")
print("took", time.perf_counter() - started)
"""


def test_an_error_log_is_plain_json_with_a_plain_traceback_even_from_a_logger_made_at_import():
    script = (
        "import tocsin.escalation.transitions as t\n"  # its module-level logger exists before configuring
        "from tocsin.logs import configure_logging\n"
        "configure_logging()\n"  # stderr is a pipe: JSON lines
        "LOG = t._log\n" + FAILING
    )
    done = run_python(script)
    (line,) = [line for line in done.stderr.splitlines() if line.strip()]
    record = json.loads(line)
    assert record["event"] == "request failed" and record["component"] == "escalation"
    assert record["exception"].startswith("Traceback (most recent call last):")
    assert "ZeroDivisionError" in record["exception"] and "0451" not in record["exception"]


def test_an_error_log_is_a_plain_traceback_without_locals_when_logging_was_never_configured():
    # tocsin embedded in a program, or these tests: structlog's defaults, which would render with rich and
    # every frame's locals, except for the traceback.
    done = run_python("import tocsin.server.endpoints as e\nLOG = e._log\n" + FAILING)
    assert "Traceback (most recent call last):" in done.stdout and "ZeroDivisionError" in done.stdout, done
    assert "0451" not in done.stdout and "╭" not in done.stdout, done.stdout  # no locals, no rich panel
    assert "component=server" in done.stdout


def test_a_program_that_configured_structlog_first_keeps_its_configuration():
    script = (
        "import structlog\n"
        "structlog.configure(processors=[structlog.processors.JSONRenderer()])\n"
        "import tocsin.server.endpoints as e\n"
        "e._log.info('hello')\n"
    )
    assert json.loads(run_python(script).stdout) == {"component": "server", "event": "hello"}
