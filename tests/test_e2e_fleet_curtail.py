"""Issues 3 and 4, the chat side: a miner sets a fleet and a hub, asks for `curtail` and a margin
alert; power and hashprice observations flow through the real pipeline, outbox and notifier to
the fake Bot API server. Numbers are checked by hand below."""

from __future__ import annotations

from bot.engine.ingest import ingest
from rules.data import Observation
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot
from watchers.base import PollResult

CHAT = 777


async def command(tg: FakeTelegram, text: str) -> str:
    return await tg.command(text, chat_id=CHAT)


async def feed(svc, clock: FakeClock, **values: float) -> int:
    obs = [
        Observation(m.replace("__", "."), v, clock(), "ercot" if m.startswith("power") else "mempool")
        for m, v in values.items()
    ]
    await svc.db(ingest, "test", PollResult(observations=obs), {}, clock(), svc.pipeline.opts)
    return await svc.notifier.drain()


async def test_curtail_and_margin_alerts(tmp_path, tg):
    clock = FakeClock()
    settings = bot_settings(tmp_path, tg, {"watchers.network": {"enabled": False}})
    async with running_bot(settings, clock) as (_app, svc):
        reply = await command(tg, "/alert curtail")
        assert "set it first" in reply and "/fleet" in reply  # nothing stored without a fleet
        reply = await command(tg, "/fleet 18 0.045")
        assert "Fleet set" in reply
        reply = await command(tg, "/alert curtail")
        assert "hub" in reply and "HB_WEST" in reply  # curtail needs a hub
        await command(tg, "/fleet 18 0.045 hub HB_WEST")
        assert "Alert set" in await command(tg, "/alert curtail")
        assert "Alert set" in await command(tg, "/alert margin < 15%")

        # Hashprice $50/PH/day at 18 J/TH: revenue per MWh = 50 / (24 × 18 kWh/PH/day) × 1000
        # = $115.74/MWh: the breakeven power price. At $0.045/kWh the margin is 1 − 45/115.74 = 61.1%.
        assert await feed(svc, clock, hashprice=50.0, power__hb_west=30.0) == 0

        clock.advance(300)
        assert await feed(svc, clock, power__hb_west=180.0) == 1
        text = tg.sent(chat_id=CHAT)[-1]["text"]
        assert "Curtail" in text and "HB_WEST" in text and "$180" in text and "$115.74" in text

        clock.advance(300)  # still above: no repeat
        assert await feed(svc, clock, power__hb_west=175.0) == 0

        clock.advance(300)
        assert await feed(svc, clock, power__hb_west=40.0) == 1
        assert "Mine again" in tg.sent(chat_id=CHAT)[-1]["text"]

        # Hashprice falls to $20: margin = 1 − 45 / (20/(24×18)×1000) = 1 − 45/46.30 = 2.8% < 15%.
        clock.advance(300)
        sent = await feed(svc, clock, hashprice=20.0)
        texts = [m["text"] for m in tg.sent(chat_id=CHAT)[-sent:]]
        assert any("2.8" in t and "15" in t for t in texts), texts
