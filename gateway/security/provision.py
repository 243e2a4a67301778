"""Per-device MQTT credentials: Mosquitto password and ACL files, and a credentials file.

``provision(out, kind=..., district=..., count=...)`` adds ``count`` new devices to the files
in ``out`` and never touches the ones already there, so batches can be provisioned over time:

- ``passwd`` (0600): one ``user:$7$...`` line per account, PBKDF2-SHA512 in Mosquitto's own
  format (what ``mosquitto_passwd`` writes), so no Mosquitto tools are needed here. Lines
  that were already in the file (other tools' users) are kept as they are.
- ``acl`` (0644): a managed block between markers, rebuilt from ``devices.json`` on every
  run; anything outside the markers is kept. Each device may publish only on its own
  ``city/{district}/{kind}/{device_id}/{telemetry,status,event,frame,ros2/#}`` and read only
  its own ``.../cmd``. The gateway account reads ``city/#`` (and the edge bridges' states) and
  writes commands and tickets.
- ``devices.json`` (0644): the registry of provisioned devices (no secrets).
- ``credentials.jsonl`` (0600): one JSON line per new account with its password, appended.
  Hand each device its line; the passwords exist nowhere else.

Mosquitto reads both files at start and again on SIGHUP.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from devices.topics import ROOT, Channel, Kind, check_name, device_prefix
from gateway.security import sites

# Mosquitto 2.0's mosquitto_passwd uses 101 iterations. The passwords made here carry 192
# random bits, so a slow hash adds no safety, while every CONNECT pays for it on the broker.
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12  # what mosquitto_passwd uses
PASSWORD_BYTES = 24
BEGIN = "# BEGIN urbanops-managed (urbanops devices provision rewrites this block)"
END = "# END urbanops-managed"
# Channels a device publishes on (SPEC §2); ``cmd`` is the platform's, so it is read-only.
DEVICE_WRITES = (Channel.TELEMETRY.value, Channel.STATUS.value, Channel.EVENT.value,
                 Channel.FRAME.value, f"{Channel.ROS2.value}/#")
_USER_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class ProvisionError(ValueError):
    """Bad arguments or files that cannot be used."""


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    district: str
    kind: str
    created_at: str
    site: str | None = None  # an edge site's device connects to the site's broker (gateway/edge/)

    @property
    def prefix(self) -> str:
        return device_prefix(self.district, self.kind, self.device_id)


@dataclass(frozen=True, slots=True)
class Credential:
    username: str
    password: str
    role: str  # "device", "gateway", "site" (an edge site's bridge) or "vision" (a site's worker)
    device_id: str | None = None
    district: str | None = None
    kind: str | None = None
    topic_prefix: str | None = None
    created_at: str = ""
    site: str | None = None


@dataclass(frozen=True, slots=True)
class ProvisionResult:
    out: Path
    created: list[Credential]
    total_devices: int
    warnings: list[str]

    @property
    def passwd(self) -> Path:
        return self.out / "passwd"

    @property
    def acl(self) -> Path:
        return self.out / "acl"

    @property
    def credentials(self) -> Path:
        return self.out / "credentials.jsonl"


def hash_password(password: str, *, iterations: int = PBKDF2_ITERATIONS, salt: bytes | None = None) -> str:
    """Mosquitto's ``$7$`` format: PBKDF2-HMAC-SHA512, base64 salt and 64-byte digest."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    parts = encoded.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    salt = base64.b64decode(parts[3])
    return secrets.compare_digest(hash_password(password, iterations=int(parts[2]), salt=salt), encoded)


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


def device_acl(device: Device) -> list[str]:
    lines = [f"user {device.device_id}"]
    lines += [f"topic write {device.prefix}/{ch}" for ch in DEVICE_WRITES]
    lines.append(f"topic read {device.prefix}/{Channel.CMD.value}")
    return lines


def gateway_acl(user: str) -> list[str]:
    # Reads everything devices publish (also through $share/{group}/city/#) and the edge sites'
    # bridge states (gateway/edge/uplinks.py); writes commands to devices and tickets to
    # subscribers; nothing else.
    return [f"user {user}", f"topic read {ROOT}/#", "topic read $SYS/broker/connection/#",
            f"topic write {ROOT}/+/+/+/{Channel.CMD.value}", f"topic write {ROOT}/+/tickets"]


def render_acl(existing: str, gateway_user: str | None, devices: list[Device],
               accounts: Iterable[list[str]] = ()) -> str:
    """``existing`` with its managed block replaced by one for the gateway, ``devices`` and the
    other ``accounts``' ACL lines."""
    outside: list[str] = []
    inside = False
    for line in existing.splitlines():
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif not inside:
            outside.append(line)
    while outside and not outside[-1].strip():
        outside.pop()
    block = [BEGIN, *(gateway_acl(gateway_user) if gateway_user else []), ""]
    for account in accounts:
        block += [*account, ""]
    for device in sorted(devices, key=lambda d: d.device_id):
        block += [*device_acl(device), ""]
    block[-1] = END
    head = [*outside, ""] if outside else []
    return "\n".join([*head, *block]) + "\n"


def passwd_users(text: str) -> set[str]:
    return {line.split(":", 1)[0] for line in text.splitlines() if ":" in line and not line.startswith("#")}


def _write_atomic(path: Path, text: str, mode: int) -> None:
    # Write aside and rename: a broker reloading on SIGHUP never reads half a file.
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)  # os.open's mode is masked by the umask
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """One provisioning run at a time per directory (two would hand out the same ids)."""
    fd = os.open(out / ".provision.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def load_registry(out: Path) -> list[Device]:
    path = out / "devices.json"
    if not path.exists():
        return []
    try:
        return [Device(**d) for d in json.loads(path.read_text())["devices"]]
    except (ValueError, KeyError, TypeError) as err:
        raise ProvisionError(f"{path} is not a device registry: {err}") from err


def next_ids(prefix: str, taken: set[str], count: int) -> list[str]:
    """``count`` fresh ids ``{prefix}-NNNN`` numbered after the highest one in ``taken``."""
    pattern = re.compile(re.escape(prefix) + r"-(\d+)$")
    highest = max((int(m.group(1)) for t in taken if (m := pattern.match(t))), default=0)
    ids = [f"{prefix}-{n:04d}" for n in range(highest + 1, highest + 1 + count)]
    for device_id in ids:
        check_name(device_id, "device_id")
    return ids


def provision(out: Path, *, kind: Kind | str, district: str, count: int, prefix: str | None = None,
              gateway_user: str = "gateway", site: str | None = None, now: datetime | None = None) -> ProvisionResult:
    """Add ``count`` devices (and the gateway account if missing) to the files in ``out``; with
    ``site``, the devices belong to that edge site's broker (``gateway.security.sites``)."""
    kind_v = Kind(kind)
    check_name(district, "district")
    if site is not None:
        check_name(site, "site")
    if not 1 <= count <= 100_000:
        raise ProvisionError("count must be between 1 and 100000")
    if not _USER_RE.match(gateway_user):
        raise ProvisionError(f"gateway user {gateway_user!r} must match {_USER_RE.pattern}")
    stamp = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        passwd_path, acl_path = out / "passwd", out / "acl"
        passwd_text = passwd_path.read_text() if passwd_path.exists() else ""
        users = passwd_users(passwd_text)
        registry = load_registry(out)
        site_passwd = sites.site_dir(out, site) / "passwd" if site else None
        site_text = site_passwd.read_text() if site_passwd and site_passwd.exists() else ""
        site_users = passwd_users(site_text)
        ids = next_ids(prefix or f"{kind_v.value}-{district}",
                       users | site_users | {d.device_id for d in registry}, count)
        city: list[Credential] = []  # accounts on the city broker
        local: list[Credential] = []  # accounts on the site's broker
        if gateway_user not in users:
            city.append(Credential(gateway_user, new_password(), "gateway", created_at=stamp))
        if site and sites.bridge_user(site) not in users:
            city.append(Credential(sites.bridge_user(site), new_password(), "site", created_at=stamp, site=site))
        if site and sites.vision_user(site) not in site_users:
            local.append(Credential(sites.vision_user(site), new_password(), "vision", created_at=stamp, site=site))
        for device_id in ids:
            dev = Device(device_id, district, kind_v.value, stamp, site)
            registry.append(dev)
            (local if site else city).append(Credential(device_id, new_password(), "device", device_id, district,
                                                        kind_v.value, dev.prefix, stamp, site))
        existing_acl = acl_path.read_text() if acl_path.exists() else ""
        warnings = []
        if any(line.strip().startswith("pattern ") for line in existing_acl.splitlines()):
            warnings.append(f"{acl_path} has 'pattern' lines: they apply to every user, devices too")
        # Secrets first: a crash after this leaves unused credentials, never unknown passwords.
        with open(_credentials_fd(out / "credentials.jsonl"), "a") as f:
            for cred in (*city, *local):
                f.write(json.dumps({k: v for k, v in asdict(cred).items() if v is not None}) + "\n")
        _write_passwd(passwd_path, passwd_text, city)
        _write_atomic(out / "devices.json", json.dumps({"devices": [asdict(d) for d in registry]}, indent=1) + "\n",
                      0o644)
        by_site: dict[str, list[Device]] = {}
        for d in registry:
            if d.site:
                by_site.setdefault(d.site, []).append(d)
        bridges = [sites.bridge_acl(name, [d.prefix for d in devs], [d.district for d in devs])
                   for name, devs in sorted(by_site.items())]
        _write_atomic(acl_path, render_acl(existing_acl, gateway_user, [d for d in registry if not d.site],
                                           bridges), 0o644)
        if site and site_passwd is not None:
            directory = site_passwd.parent
            directory.mkdir(parents=True, exist_ok=True)
            _write_passwd(site_passwd, site_text, local)
            site_acl = directory / "acl"
            _write_atomic(site_acl, render_acl(site_acl.read_text() if site_acl.exists() else "", None,
                                               by_site[site], [sites.vision_acl(site)]), 0o644)
            _write_atomic(directory / "auth.conf", sites.auth_conf(directory), 0o644)
    return ProvisionResult(out, [*city, *local], len(registry), warnings)


def _write_passwd(path: Path, existing: str, new: list[Credential]) -> None:
    lines = [existing.rstrip("\n")] if existing.strip() else []
    lines += [f"{c.username}:{hash_password(c.password)}" for c in new]
    _write_atomic(path, "\n".join(lines) + "\n", 0o600)


def _credentials_fd(path: Path) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)  # also tightens a file someone created with looser permissions
    return fd


def read_credentials(path: Path) -> dict[str, Credential]:
    """Every account in a credentials file, by user name (the latest line wins)."""
    creds: dict[str, Credential] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            cred = Credential(**json.loads(line))
            creds[cred.username] = cred
    return creds
