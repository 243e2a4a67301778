"""A private Mosquitto locked down the way ``urbanops devices provision`` and
``urbanops devices tls-certs`` set it up: no anonymous access, per-device passwords and
ACLs, and a TLS listener next to the plain one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.local_services import Mosquitto, free_port, wait_for_port
from gateway.security.provision import Credential, provision, read_credentials
from gateway.security.tls import TlsFiles, listener_lines, make_certs


@dataclass
class SecureBroker:
    mq: Mosquitto
    auth: Path
    tls: TlsFiles
    creds: dict[str, Credential]

    @property
    def port(self) -> int:
        return self.mq.port

    @property
    def tls_port(self) -> int:
        return self.tls.port

    def devices(self, kind: str, district: str) -> list[Credential]:
        return sorted((c for c in self.creds.values() if c.kind == kind and c.district == district),
                      key=lambda c: c.username)

    def url(self, user: str) -> str:
        return f"mqtt://{user}:{self.creds[user].password}@127.0.0.1:{self.port}"


def secure_conf(auth: Path, tls: TlsFiles | None) -> list[str]:
    lines = ["allow_anonymous false", f"password_file {auth / 'passwd'}", f"acl_file {auth / 'acl'}"]
    return lines + (listener_lines(tls, bind="127.0.0.1") if tls else [])


def start_secure(root: Path) -> SecureBroker:
    auth = root / "auth"
    provision(auth, kind="drone", district="futian", count=2)
    provision(auth, kind="sensor", district="luohu", count=1)
    tls = make_certs(root / "tls", port=free_port())
    mq = Mosquitto(root / "mq", extra_conf=secure_conf(auth, tls)).start()
    wait_for_port(tls.port)
    return SecureBroker(mq, auth, tls, read_credentials(auth / "credentials.jsonl"))


@pytest.fixture(scope="session")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    sb = start_secure(tmp_path_factory.mktemp("secure"))
    yield sb
    sb.mq.stop()
