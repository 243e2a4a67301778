"""One sender per channel kind, in each receiver's documented format.

- ``webhook``: the ticket event as JSON, ``X-Urbanops-Signature`` HMAC-SHA256 (ours).
- ``wecom``: WeCom (企业微信) group robot, ``{"msgtype": "markdown", "markdown": {"content"}}``;
  success is ``errcode == 0`` in the JSON answer (an HTTP 200 may still carry an error).
- ``dingtalk``: DingTalk (钉钉) group robot, ``{"msgtype": "markdown", "markdown": {"title", "text"}}``;
  with a signing secret, ``timestamp`` (ms) and ``sign`` = base64(HMAC-SHA256(secret,
  "timestamp\\nsecret")) are added to the URL at each attempt (DingTalk refuses a sign over an hour
  old, so a retry signs afresh).
- ``email``: SMTP (STARTTLS and login when configured), plain text; the Message-ID is derived
  from the delivery id, so a receiver can drop a retry it already has.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol
from urllib.parse import quote_plus

import httpx

from gateway.webhooks.config import WebhookConfig
from gateway.webhooks.message import Message
from gateway.webhooks.signing import EVENT_HEADER, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign


@dataclass(frozen=True)
class Outcome:
    ok: bool
    code: int | None = None
    error: str | None = None


class Sender(Protocol):
    def send(self, d: Mapping[str, Any], message: Message) -> Outcome: ...


def _robot_answer(resp: httpx.Response) -> Outcome:
    """WeCom and DingTalk answer HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}`` on success."""
    if not 200 <= resp.status_code < 300:
        return Outcome(False, resp.status_code, f"HTTP {resp.status_code}: {resp.text[:200]}")
    try:
        answer = resp.json()
    except ValueError:
        return Outcome(False, resp.status_code, f"not JSON: {resp.text[:200]}")
    if not isinstance(answer, dict) or answer.get("errcode") != 0:
        return Outcome(False, resp.status_code, f"refused: {str(answer)[:200]}")
    return Outcome(True, resp.status_code)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


class WebhookSender:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def send(self, d: Mapping[str, Any], message: Message) -> Outcome:
        body = json.dumps(d["payload"], separators=(",", ":"), sort_keys=True, default=str).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(d["secret"], body),
                   IDEMPOTENCY_HEADER: f"urbanops-delivery-{d['id']}", EVENT_HEADER: d["event"]}
        resp = self.http.post(d["url"], content=body, headers=headers)
        if 200 <= resp.status_code < 300:
            return Outcome(True, resp.status_code)
        return Outcome(False, resp.status_code, f"HTTP {resp.status_code}: {resp.text[:200]}")


class WeComSender:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def send(self, d: Mapping[str, Any], message: Message) -> Outcome:
        return _robot_answer(self.http.post(d["url"], json={"msgtype": "markdown",
                                                            "markdown": {"content": message.markdown}}))


class DingTalkSender:
    def __init__(self, http: httpx.Client, clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.http = http
        self.clock_ms = clock_ms

    def send(self, d: Mapping[str, Any], message: Message) -> Outcome:
        url = d["url"]
        if d.get("secret"):
            ts = self.clock_ms()
            url += ("&" if "?" in url else "?") + f"timestamp={ts}&sign={dingtalk_sign(d['secret'], ts)}"
        body = {"msgtype": "markdown", "markdown": {"title": message.title, "text": message.markdown}}
        return _robot_answer(self.http.post(url, json=body))


class EmailSender:
    def __init__(self, config: WebhookConfig) -> None:
        self.config = config

    def send(self, d: Mapping[str, Any], message: Message) -> Outcome:
        c = self.config
        if not c.smtp_host:
            return Outcome(False, None, "no SMTP server configured (URBANOPS_SMTP_HOST)")
        to = [a for a in str(d["url"]).removeprefix("mailto:").split(",") if a]
        msg = EmailMessage()
        msg["From"] = c.smtp_from
        msg["To"] = ", ".join(to)
        msg["Subject"] = message.title
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = f"<urbanops-delivery-{d['id']}@{c.smtp_from.rsplit('@', 1)[-1]}>"
        msg["X-Urbanops-Event"] = str(d["event"])
        msg.set_content(message.text)
        try:
            with smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=c.timeout_s) as smtp:
                if c.smtp_starttls:
                    smtp.starttls()
                if c.smtp_user:
                    smtp.login(c.smtp_user, c.smtp_password or "")
                refused = smtp.send_message(msg, to_addrs=to)
        except (OSError, smtplib.SMTPException) as err:
            return Outcome(False, None, f"{type(err).__name__}: {err}")
        if refused:
            return Outcome(False, None, f"refused recipients: {', '.join(refused)}")
        return Outcome(True, 250)


def make_senders(http: httpx.Client, config: WebhookConfig) -> dict[str, Sender]:
    """The registry: subscription kind -> sender."""
    return {"webhook": WebhookSender(http), "wecom": WeComSender(http), "dingtalk": DingTalkSender(http),
            "email": EmailSender(config)}
