"""The city pack's agency channels as delivery subscriptions (``origin = 'pack'``).

Each channel of ``city.yaml`` becomes one subscription keyed by agency, type and target, synced
whenever the pack's sha256 changes (start, SIGHUP, admin reload): new channels are added, changed
ones updated, removed ones deactivated (their delivery log stays). A subscription only receives
history newer than itself, so adding a channel does not replay old tickets to it.

Targets on ``.invalid`` hosts (RFC 2606: a name that can never resolve) are placeholders, as in
the demo packs, and are skipped rather than retried forever.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg

from citypack import CityPack

log = logging.getLogger(__name__)
PACK_EVENTS = ["created", "escalated", "reminder", "resolved"]


@dataclass(frozen=True)
class PackSubscription:
    key: str
    agency: str
    kind: str
    url: str  # http(s) URL, or mailto:a@x,b@y for email
    secret: str
    lang: str


def _placeholder(host: str) -> bool:
    return host.lower().rstrip(".").endswith(".invalid") or host.lower() == "invalid"


def pack_subscriptions(pack: CityPack) -> tuple[list[PackSubscription], list[str]]:
    """The pack's deliverable channels, and the placeholders skipped (as ``agency type``)."""
    subs, skipped = [], []
    lang = pack.config.languages[0]
    for agency, info in pack.config.agencies.items():
        for ch in info.channels:
            if ch.type == "email":
                hosts = [a.rsplit("@", 1)[-1] for a in ch.to]
                target = "mailto:" + ",".join(ch.to)
            else:
                hosts = [urlsplit(str(ch.url)).hostname or ""]
                target = str(ch.url)
            if any(_placeholder(h) for h in hosts):
                skipped.append(f"{agency.value} {ch.type}")
                continue
            digest = hashlib.sha256(target.encode()).hexdigest()[:16]
            subs.append(PackSubscription(f"{agency.value}:{ch.type}:{digest}", agency.value, ch.type, target,
                                         ch.secret or "", lang))
    return subs, skipped


@dataclass(frozen=True)
class SyncResult:
    active: int
    deactivated: int
    skipped: list[str]


def sync(conn: psycopg.Connection[Any], pack: CityPack) -> SyncResult:
    subs, skipped = pack_subscriptions(pack)
    for s in subs:
        conn.execute(
            "INSERT INTO webhook_subscriptions (agency, url, secret, events, kind, origin, pack_key, lang)"
            " VALUES (%s, %s, %s, %s, %s, 'pack', %s, %s)"
            " ON CONFLICT (pack_key) DO UPDATE SET url = excluded.url, secret = excluded.secret,"
            " lang = excluded.lang, events = excluded.events, active = true",
            (s.agency, s.url, s.secret, PACK_EVENTS, s.kind, s.key, s.lang))
    gone = conn.execute("UPDATE webhook_subscriptions SET active = false WHERE origin = 'pack' AND active"
                        " AND NOT (pack_key = ANY (%s))", ([s.key for s in subs],)).rowcount
    if skipped:
        log.info("city pack %s: placeholder channels not delivered (.invalid): %s", pack.id, ", ".join(skipped))
    return SyncResult(len(subs), max(gone, 0), skipped)
