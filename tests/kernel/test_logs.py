"""tocsin.logs writes each event as one JSON line on stderr; in a running event loop the lines an iteration
logs are written together, with one flush, once the loop is done with what it was doing."""

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
