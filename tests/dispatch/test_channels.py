"""The city pack's agency channels through the durable delivery loop, against real receivers:
an HTTP server that speaks the WeCom and DingTalk group-robot formats (and checks DingTalk's
signature the way DingTalk documents it), and an SMTP server (aiosmtpd). The escalation ladder
reminds level by level while a ticket stays unacknowledged, and stops when someone acknowledges."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from citypack import DEMO_PACK, load_pack
from gateway.api import create_app
from gateway.city import CityHolder
from gateway.webhooks import WebhookConfig, WebhookService, channels, ladder, store
from gateway.webhooks.message import Message
from gateway.webhooks.senders import DingTalkSender
from tests.api.conftest import Db, bearer, make_settings
from tests.api.conftest import db as db
from tests.api.conftest import tokens as tokens
from tests.api_tickets.conftest import Seed, free_port
from tests.api_tickets.conftest import seed as seed

WECOM_KEY, DING_TOKEN, DING_SECRET = "em-robot-key", "um-robot-token", "SEC0123456789abcdef"


class Robots(ThreadingHTTPServer):
    """WeCom and DingTalk group robots as their documentation describes them."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RobotHandler)
        self.got: list[tuple[str, dict[str, Any]]] = []
        self.refused: list[str] = []
        self.lock = threading.Condition()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def wait(self, n: int, timeout: float = 10.0) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            assert self.lock.wait_for(lambda: len(self.got) >= n, timeout), self.got
            return list(self.got)


class _RobotHandler(BaseHTTPRequestHandler):
    server: Robots

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, errcode: int, errmsg: str) -> None:
        body = json.dumps({"errcode": errcode, "errmsg": errmsg}).encode()
        self.send_response(200)  # both answer 200 and put the error in the body
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        msg = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if url.path == "/cgi-bin/webhook/send":
            ok = (q.get("key") == WECOM_KEY and msg.get("msgtype") == "markdown"
                  and isinstance(msg["markdown"].get("content"), str)
                  and len(msg["markdown"]["content"].encode()) <= 4096)
            kind = "wecom"
        elif url.path == "/robot/send":
            ts = int(q.get("timestamp", "0"))
            want = base64.b64encode(hmac.new(DING_SECRET.encode(), f"{ts}\n{DING_SECRET}".encode(),
                                             hashlib.sha256).digest()).decode()
            fresh = abs(time.time() * 1000 - ts) < 3_600_000
            ok = (q.get("access_token") == DING_TOKEN and q.get("sign") == want and fresh
                  and msg.get("msgtype") == "markdown" and msg["markdown"].get("title") and msg["markdown"].get("text"))
            kind = "dingtalk"
        else:
            self.send_error(404)
            return
        with self.server.lock:
            if ok:
                self.server.got.append((kind, msg))
            else:
                self.server.refused.append(kind)
            self.server.lock.notify_all()
        self._answer(0, "ok") if ok else self._answer(310000, "sign not match")


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


@pytest.fixture()
def robots() -> Iterator[Robots]:
    srv = Robots()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture()
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    ctl = Controller(box, hostname="127.0.0.1", port=port)
    ctl.start()
    yield box, port
    ctl.stop()


def city_with_channels(tmp_path: Path, robots: Robots) -> Path:
    root = tmp_path / "city"
    shutil.copytree(DEMO_PACK, root)
    cfg = yaml.safe_load((root / "city.yaml").read_text(encoding="utf-8"))
    cfg["agencies"]["emergency_management"]["channels"] = [
        {"type": "wecom", "url": f"{robots.base}/cgi-bin/webhook/send?key={WECOM_KEY}"},
        {"type": "email", "to": ["duty@em.example", "chief@em.example"]}]
    cfg["agencies"]["urban_management"]["channels"] = [
        {"type": "dingtalk", "url": f"{robots.base}/robot/send?access_token={DING_TOKEN}", "secret": DING_SECRET}]
    (root / "city.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return root


def test_placeholder_channels_of_the_demo_pack_are_not_delivered() -> None:
    subs, skipped = channels.pack_subscriptions(load_pack(DEMO_PACK))
    assert subs == [] and "emergency_management wecom" in skipped and "emergency_management email" in skipped


def test_ladder_reminds_level_by_level_over_wecom_dingtalk_and_email_until_acknowledged(
        tmp_path: Path, robots: Robots, smtp: tuple[Mailbox, int], seed: Seed, db: Db, db_url: str,
        tokens: dict[str, str]) -> None:
    box, smtp_port = smtp
    holder = CityHolder(city_with_channels(tmp_path, robots))
    now = [datetime.now(UTC)]
    cfg = WebhookConfig(backoff_base_s=0.0, backoff_cap_s=0.0, max_attempts=3, smtp_host="127.0.0.1",
                        smtp_port=smtp_port, smtp_from="urbanops@city.example")
    svc = WebhookService(db_url, cfg, city=holder, clock=lambda: now[0])
    try:
        svc.run_once()  # syncs the pack's channels: they hear of tickets from now on
        [(active,)] = db.execute("SELECT count(*) FROM webhook_subscriptions WHERE origin = 'pack' AND active")
        assert active == 3
        ticket = seed.incident("inc-lad", category="sanitation", agency="urban_management", severity="medium",
                               sla_in=timedelta(minutes=-1))  # already past its SLA, nobody has acknowledged
        now[0] = datetime.now(UTC)
        svc.run_once()
        # Level 1 (0 min past the SLA): the ticket's own duty office, by DingTalk, after its 'created'.
        got = robots.wait(2)
        assert [k for k, _ in got] == ["dingtalk", "dingtalk"]
        created, level1 = (m["markdown"] for _, m in got)
        assert created["title"].startswith("【新工单】") and level1["title"].startswith("【催办（第1级）】")
        assert ticket in level1["text"] and "深圳市城市管理和综合执法局" in level1["text"]
        assert box.messages == []  # emergency management is not told yet
        # Level 2 (30 min): emergency management, by WeCom and e-mail; DingTalk hears nothing new.
        now[0] += timedelta(minutes=31)
        svc.run_once()
        got = robots.wait(3)
        assert got[2][0] == "wecom" and "催办（第2级）" in got[2][1]["markdown"]["content"]
        [(rcpts, mail)] = box.messages
        assert sorted(rcpts) == ["chief@em.example", "duty@em.example"]
        assert "催办（第2级）" in mail["Subject"] and ticket in mail.get_content()
        assert mail["Message-ID"].startswith("<urbanops-delivery-")
        # Level 3 is written, then a manager acknowledges before it goes out: it is cancelled, not sent.
        now[0] += timedelta(hours=2)
        conn = svc._connection()
        with conn.transaction():
            assert ladder.climb(conn, holder.pack.config.escalation, now[0], timedelta(days=1)) == 1
            store.enqueue(conn, now[0], 30.0)
        db.execute("UPDATE tickets SET status = 'acknowledged' WHERE ticket_id = %s", (ticket,))
        svc.run_once()
        now[0] += timedelta(hours=5)
        svc.run_once()  # and nothing more: the ladder stops at an acknowledgement
    finally:
        svc.stop()
    assert len(robots.got) == 3 and len(box.messages) == 1 and robots.refused == []
    rows = db.execute("SELECT s.kind, d.event, d.step, d.status FROM webhook_deliveries d"
                      " JOIN webhook_subscriptions s ON s.id = d.subscription_id ORDER BY d.id")
    assert sorted(rows) == sorted([
        ("dingtalk", "created", 0, "delivered"), ("dingtalk", "reminder", 1, "delivered"),
        ("wecom", "reminder", 2, "delivered"), ("email", "reminder", 2, "delivered"),
        ("dingtalk", "reminder", 3, "cancelled"), ("wecom", "reminder", 3, "cancelled"),
        ("email", "reminder", 3, "cancelled")])
    steps = [r[0] for r in db.execute("SELECT details ->> 'step' FROM ticket_history WHERE ticket_id = %s"
                                      " AND action = 'remind' ORDER BY id", (ticket,))]
    assert steps == ["1", "2", "3"]
    # The admin API shows the pack's channels without their robot keys.
    app = create_app(make_settings(database_url=db_url, data_dir=tmp_path))
    with TestClient(app) as client:
        subs = client.get("/api/v1/webhooks", headers=bearer(tokens["admin"])).json()
    assert {(s["kind"], s["origin"]) for s in subs} == {("wecom", "pack"), ("email", "pack"), ("dingtalk", "pack")}
    assert not any(WECOM_KEY in s["url"] or DING_TOKEN in s["url"] for s in subs)


def test_a_wrong_dingtalk_secret_is_refused_by_the_robot(robots: Robots) -> None:
    with httpx.Client() as http:
        sender = DingTalkSender(http)
        d = {"url": f"{robots.base}/robot/send?access_token={DING_TOKEN}", "secret": "SECwrong"}
        out = sender.send(d, Message("t", "**x**", "x"))
        assert not out.ok and out.code == 200 and "310000" in (out.error or "")
        assert sender.send({**d, "secret": DING_SECRET}, Message("t", "**x**", "x")).ok
    assert robots.refused == ["dingtalk"]


def test_reload_retires_a_removed_channel(tmp_path: Path, robots: Robots, db: Db, db_url: str) -> None:
    root = city_with_channels(tmp_path, robots)
    holder = CityHolder(root)
    svc = WebhookService(db_url, WebhookConfig(), city=holder)
    try:
        svc.run_once()
        cfg = yaml.safe_load((root / "city.yaml").read_text(encoding="utf-8"))
        cfg["agencies"]["urban_management"]["channels"] = []
        (root / "city.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        assert holder.reload().ok
        svc.run_once()
    finally:
        svc.stop()
    rows = db.execute("SELECT kind, active FROM webhook_subscriptions WHERE origin = 'pack' ORDER BY kind")
    assert rows == [("dingtalk", False), ("email", True), ("wecom", True)]


def test_message_in_english_names_plan_sections_and_stays_under_wecoms_limit() -> None:
    from zoneinfo import ZoneInfo

    from gateway.webhooks.message import render

    ticket = {"severity": "high", "category": "fire", "agency": "fire_rescue", "status": "escalated",
              "sla_due": "2026-08-14T00:30:00+00:00", "summary": "High fire at Futian. " * 40,
              "location": {"address": "Lianhuashan Park (Shennan Boulevard), Futian"},
              "citations": [{"title": "Fire Emergency Plan", "section": 3, "heading": "High-Rise Residential Fires"}],
              "actions": [f"step {i} " + "x" * 150 for i in range(8)]}
    payload = {"event": "reminder", "step": 2, "ticket_id": "tkt-1", "ticket": ticket}
    m = render(payload, "en", ZoneInfo("Asia/Shanghai"))
    assert m.title.startswith("[Reminder (level 2)] High fire, Lianhuashan Park")
    assert "Fire Emergency Plan, section 3: High-Rise Residential Fires" in m.text
    assert "Due: 2026-08-14 08:30" in m.text  # on the city's clock
    assert len(m.markdown.encode()) <= 4096 and "tkt-1" in m.markdown
