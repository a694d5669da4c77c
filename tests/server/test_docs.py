"""docs/api.md and the README's curl examples, replayed in order against a real server on the example config.

Each documented answer must have the status shown, fit the OpenAPI schema of that answer (fields may be left
out; none may be made up), and be contained in what the server really answered.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from datetime import UTC, datetime
from typing import Any

import aiohttp
import attrs
import jsonschema_rs
import pytest
import yaml
from support.docs import ROOT, code_blocks
from support.server import ServerThread

import tocsin
from tocsin.server import create_app, memory_storage

API = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "examples" / "tocsin.yaml"
DOC_TIME = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
EXAMPLE_BLOCK = re.compile(
    r"^```console\n(\$ curl .*?)^```\n+Answer: (\d{3})[^\n]*\n+(?:```(json)?\n(.*?)^```)?", re.MULTILINE | re.DOTALL
)


@attrs.frozen
class Example:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    status: int
    answer: str | None
    is_json: bool


def parse_curl(command: str) -> tuple[str, str, dict[str, str], bytes | None]:
    words = shlex.split(command.removeprefix("$ ").replace("\\\n", " "))
    assert words[0] == "curl", command
    method, headers, body, url = "GET", {}, None, None
    rest = iter(words[1:])
    for word in rest:
        if word == "-X":
            method = next(rest)
        elif word == "-H":
            name, _, value = next(rest).partition(": ")
            headers[name] = value
        elif word == "-d":
            body = next(rest).encode()
        elif word.startswith("http://127.0.0.1:8080"):
            url = word.removeprefix("http://127.0.0.1:8080")
        else:
            assert word == "-s", f"unexpected curl argument {word!r}"
    assert url is not None, command
    return method, url, headers, body


def examples(text: str) -> list[Example]:
    found = []
    for command, status, kind, answer in EXAMPLE_BLOCK.findall(text):
        method, path, headers, body = parse_curl(command.strip())
        found.append(Example(method, path, headers, body, int(status), answer or None, kind == "json"))
    return found


def relaxed(node: Any) -> Any:
    """The schema with nothing required and no field it does not name: a trimmed example still passes, a
    made-up field does not."""
    if isinstance(node, dict):
        node = {key: relaxed(value) for key, value in node.items() if key != "required"}
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [relaxed(item) for item in node]
    return node


def contained(shown: Any, actual: Any, where: str = "$") -> list[str]:
    """Where ``shown`` differs from ``actual``: every key shown must be there with a contained value, and a
    list shown must be the first items of the list answered (an example may stop early)."""
    if isinstance(shown, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        return [
            fault
            for key, value in shown.items()
            for fault in contained(value, actual.get(key, KeyError), f"{where}.{key}")
        ]
    if isinstance(shown, list):
        if not isinstance(actual, list) or len(shown) > len(actual):
            return [f"{where}: expected at least {len(shown)} items, got {actual!r}"]
        return [fault for n, item in enumerate(shown) for fault in contained(item, actual[n], f"{where}[{n}]")]
    return [] if shown == actual else [f"{where}: documented {shown!r}, answered {actual!r}"]


def example_config(plugins: tocsin.Plugins) -> tocsin.Config:
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    # Its webhooks point at hooks.example.com; the tests send nothing beyond 127.0.0.1, so people are paged
    # through the log channel here.
    document.pop("users")
    document.pop("notify_channels")
    return tocsin.parse_config(document, plugins.registry, source=str(EXAMPLE))


async def replay(found: list[Example]) -> list[tuple[Example, int, str, str]]:
    plugins = tocsin.load_plugins()
    clock = tocsin.ManualClock(DOC_TIME)
    # Reading the file again (POST /v1/config/reload) takes its users and notify channels too: nothing pages after it.
    storage = memory_storage(clock)  # the incidents' history is stamped by the same clock
    app = create_app(example_config(plugins), plugins, storage=storage, clock=clock, config_source=EXAMPLE)
    outbox = app.state.service.engine.outbox
    answers = []
    with ServerThread(app) as server:
        async with aiohttp.ClientSession(server.url) as http:
            for example in found:
                while server.call(lambda: outbox.queued() + outbox.in_flight()):  # deliveries settle first
                    await asyncio.sleep(0.01)
                async with http.request(
                    example.method, example.path, headers=example.headers, data=example.body
                ) as answer:
                    answers.append((example, answer.status, answer.content_type, await answer.text()))
    return answers


def check_answers(answers: list[tuple[Example, int, str, str]], document: dict[str, Any]) -> None:
    components = relaxed(document["components"])
    for example, status, content_type, text in answers:
        label = f"{example.method} {example.path}"
        assert status == example.status, f"{label}: documented {example.status}, answered {status}: {text}"
        if example.answer is None:
            continue
        if not example.is_json:
            at = 0
            for line in (line for line in example.answer.splitlines() if line != "..."):
                at = text.find(line, at)  # each documented line, in order ("..." stands for lines left out)
                assert at >= 0, f"{label}: {line!r} is not in the answer (in order): {text}"
            continue
        shown = json.loads(example.answer)
        actual = json.loads(text)
        template = next(
            t for t in document["paths"] if re.fullmatch(re.sub(r"{\w+}", "[^/]+", t), example.path.split("?")[0])
        )
        responses = document["paths"][template][example.method.lower()]["responses"]
        schema = relaxed(responses[str(status)]["content"][content_type]["schema"])
        validator = jsonschema_rs.Draft202012Validator({**schema, "components": components})
        errors = [f"{error.instance_path}: {error.message}" for error in validator.iter_errors(shown)]
        assert errors == [], f"{label}: the documented answer does not fit the schema: {errors}"
        assert contained(shown, actual) == [], f"{label}: {contained(shown, actual)}"


def test_the_api_page_documents_every_endpoint():
    plugins = tocsin.load_plugins()
    app = create_app(example_config(plugins), plugins, storage=memory_storage())
    document = json.loads(app.state.openapi)
    missing = [
        f"{method.upper()} {path}"
        for path, methods in document["paths"].items()
        for method in methods
        if f"### {method.upper()} {path}\n" not in API
    ]
    assert missing == []


async def test_every_api_example_answers_as_documented():
    found = examples(API)
    assert len(found) >= 25
    answers = await replay(found)
    check_answers(answers, json.loads(answers[-1][3]))  # the last example fetches /openapi.json


@pytest.mark.parametrize("source", code_blocks(API, "yaml"))
def test_each_yaml_example_is_a_valid_config(source):
    assert source.startswith("# tocsin.yaml")
    tocsin.parse_config(yaml.safe_load(source), tocsin.load_plugins().registry, source="docs/api.md")


def test_the_python_example_runs():
    (source,) = code_blocks(API, "python")
    exec(compile(source, "docs/api.md example", "exec"), {"__name__": "docs_example"})


async def test_the_readme_quickstart_curls_work_against_the_example_config():
    found = examples(README)
    assert [(e.method, e.path.split("?")[0]) for e in found] == [
        ("POST", "/v1/incidents"),
        ("GET", "/v1/schedules/primary-oncall/oncall"),
        ("POST", "/v1/incidents/disk-db1/acknowledge"),
        ("POST", "/v1/incidents/disk-db1/resolve"),
        ("GET", "/v1/escalations/disk-db1"),
    ]
    for example, status, _, text in await replay(found):
        assert status == example.status, text
