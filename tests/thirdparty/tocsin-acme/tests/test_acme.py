"""tocsin_acme's own tests, written with tocsin's pytest fixtures (installed with tocsin: nothing to import)."""

import asyncio
from datetime import UTC, datetime

from aiohttp import web

import tocsin_acme

CONFIG = """
plugins:
  acme: {country_code: "+44", desks: {emea: 7, amer: 15}}
users:
  ana@example.com: {contacts: [{type: acme_sms, number: "7700 900001"}]}
  cal@example.com: {contacts: [{type: acme_sms, number: "7700 900003"}]}
schedules:
  - id: desks
    timezone: UTC
    layers:
      - name: desks
        rotation: {type: acme_desks, people: {emea: [ana@example.com], amer: [cal@example.com]}}
policies:
  - id: sms
    levels:
      - targets: [{type: schedule, schedule_id: desks}]
      - delay_minutes: 10
        targets: [{type: acme_sms, number: "7700 900900"}]
"""


def test_the_desk_on_duty_is_paged_then_the_duty_phone(tocsin_config, tocsin_pager, tocsin_clock):
    tocsin_clock.set(datetime(2026, 3, 2, 16, 0, tzinfo=UTC))  # 16:00 UTC: amer's desk
    pager = tocsin_pager(tocsin_config.yaml(CONFIG).build())
    pager.start("sms")
    assert pager.sender.take() == [(0, 0, "cal@example.com", "acme_sms")]
    pager.advance(minutes=10)
    assert pager.sender.take() == [(10, 1, "+447700900900", "acme_sms")]
    pager.advance(hours=2)
    pager.sender.assert_no_more()


def test_mistakes_are_reported_with_their_path(tocsin_config):
    tocsin_config.yaml(CONFIG)
    tocsin_config.policy(id="abroad", levels=[{"targets": [{"type": "acme_sms", "number": "+1 555 0100"}]}])
    desks = {"type": "acme_desks", "people": {"apac": ["kim@example.com"]}}
    tocsin_config.schedule(id="night", layers=[{"name": "night", "rotation": desks}])
    assert tocsin_config.faults() == [
        "$.policies[1].levels[0].targets[0]: ACME sends to +44 numbers, got '+1 555 0100'",
        "$.schedules[1].layers[0].rotation: unknown desk 'apac'; known: amer, emea",
        "$.schedules[1].layers[0].rotation: kim@example.com has no acme_sms contact",
    ]


def test_settings_faults_name_the_field(tocsin_config):
    tocsin_config.plugin("acme", country_code="44", desks={"emea": 7, "amer": 7})
    assert tocsin_config.faults() == [
        "$.plugins.acme.country_code: needs '+' and digits, such as +44, got '44'",
        "$.plugins.acme.desks.amer: desk 'emea' takes over at 7:00 too",
    ]


def test_the_sender_sends_every_sms_over_one_session(tocsin_notification):
    received = []

    async def gateway(request):
        received.append((await request.json(), request.transport.get_extra_info("peername")))
        return web.json_response({"queued": True})

    async def scenario():
        app = web.Application()
        app.router.add_post("/v1/messages", gateway)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1/messages"
        settings = tocsin_acme.AcmeSettings(gateway=url, country_code="+44", allow_networks=("127.0.0.1/32",))
        sender = tocsin_acme.create_sender(None, plugin_settings=settings)
        contact = tocsin_acme.AcmeSmsContact(number="7700 900001")
        await sender.start()
        try:
            return [
                await sender.deliver(
                    tocsin_notification("ana@example.com", channel="acme_sms", contact=contact, key=key)
                )
                for key in ("page-1", "page-2")
            ]
        finally:
            await sender.close()
            await runner.cleanup()

    results = asyncio.run(scenario())
    assert [(result.ok, result.detail) for result in results] == [(True, "HTTP 200 OK")] * 2
    assert [body["to"] for body, _ in received] == ["+447700900001"] * 2
    assert received[0][0]["text"] == "[P1] inc-1 — escalation level 0"
    assert len({peer for _, peer in received}) == 1  # one session, its connection kept
