"""``urbanops devices provision`` and ``tls-certs`` files: modes, hash format, appending."""

from __future__ import annotations

import json
import ssl
import stat
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from devices.topics import TopicError
from gateway.cli.devices import app
from gateway.security.provision import BEGIN, END, ProvisionError, provision, read_credentials, verify_password
from gateway.security.tls import make_certs


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_cli_provision_writes_private_files_and_appends(tmp_path: Path) -> None:
    out = tmp_path / "auth"
    runner = CliRunner()
    args = ["provision", "--kind", "drone", "--district", "futian", "--out", str(out), "--count"]
    res = runner.invoke(app, [*args, "5"])
    assert res.exit_code == 0, res.output
    assert "drone-futian-0005\tcity/futian/drone/drone-futian-0005/#" in res.stdout
    creds = read_credentials(out / "credentials.jsonl")
    assert all(c.password not in res.output for c in creds.values())  # secrets only in the file
    assert mode(out / "credentials.jsonl") == 0o600 and mode(out / "passwd") == 0o600
    res2 = runner.invoke(app, [*args, "2"])
    assert res2.exit_code == 0, res2.output
    creds2 = read_credentials(out / "credentials.jsonl")
    assert {k: v.password for k, v in creds.items()}.items() <= {k: v.password for k, v in creds2.items()}.items()
    assert sorted(creds2) == ["drone-futian-0001", "drone-futian-0002", "drone-futian-0003", "drone-futian-0004",
                              "drone-futian-0005", "drone-futian-0006", "drone-futian-0007", "gateway"]
    hashes = dict(line.split(":", 1) for line in (out / "passwd").read_text().splitlines())
    assert sorted(hashes) == sorted(creds2)
    assert all(verify_password(c.password, hashes[u]) for u, c in creds2.items())
    assert len(json.loads((out / "devices.json").read_text())["devices"]) == 7


def test_hash_format_matches_mosquitto_passwd(tmp_path: Path) -> None:
    passwd = tmp_path / "p"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "alice", "s3cret"], check=True)
    encoded = passwd.read_text().strip().split(":", 1)[1]
    assert encoded.startswith("$7$")
    assert verify_password("s3cret", encoded) and not verify_password("s3creT", encoded)


def test_foreign_users_and_acl_lines_are_kept(tmp_path: Path) -> None:
    out = tmp_path / "auth"
    out.mkdir()
    (out / "passwd").write_text("simulator:$7$101$abc$def\n")
    (out / "acl").write_text("user simulator\ntopic write city/+/+/+/telemetry\n")
    provision(out, kind="sensor", district="luohu", count=1)
    result = provision(out, kind="sensor", district="luohu", count=1)
    assert (out / "passwd").read_text().startswith("simulator:$7$101$abc$def\n")
    acl = (out / "acl").read_text()
    assert acl.startswith("user simulator\ntopic write city/+/+/+/telemetry\n")
    assert acl.count(BEGIN) == 1 and acl.count(END) == 1 and acl.count("user gateway") == 1
    assert "topic read city/luohu/sensor/sensor-luohu-0002/cmd" in acl
    assert "topic write city/luohu/sensor/sensor-luohu-0001/ros2/#" in acl
    assert "cmd" not in "".join(line for line in acl.splitlines() if line.startswith("topic write city/luohu"))
    assert result.warnings == []
    (out / "acl").write_text(acl + "pattern write city/+/+/%u/#\n")
    assert provision(out, kind="sensor", district="luohu", count=1).warnings  # patterns apply to devices too


@pytest.mark.parametrize("kwargs", [
    {"kind": "tank", "district": "futian", "count": 1},
    {"kind": "drone", "district": "Futian; DROP TABLE", "count": 1},
    {"kind": "drone", "district": "futian", "count": 0},
    {"kind": "drone", "district": "futian", "count": 1, "prefix": "x" * 70},
    {"kind": "drone", "district": "futian", "count": 1, "gateway_user": "gw\nuser evil"},
])
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises((ProvisionError, TopicError, ValueError)):
        provision(tmp_path / "auth", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "auth" / "passwd").exists()


def test_tls_certs_verify_for_the_listed_hosts_only(tmp_path: Path) -> None:
    files = make_certs(tmp_path / "tls", hosts=["broker.city.example", "127.0.0.1"])
    assert mode(files.server_key) == 0o600 and mode(files.ca_key) == 0o600
    ca_before = files.ca_cert.read_bytes()
    files = make_certs(tmp_path / "tls", hosts=["broker.city.example", "127.0.0.1"])  # renews the server cert
    assert files.ca_cert.read_bytes() == ca_before
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(files.ca_cert), "-purpose", "sslserver",
                             str(files.server_cert)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    for host, ok in (("broker.city.example", True), ("127.0.0.1", True), ("evil.example", False)):
        res = subprocess.run(["openssl", "x509", "-in", str(files.server_cert), "-noout", "-checkhost" if
                              not host[0].isdigit() else "-checkip", host], capture_output=True, text=True)
        assert ("does match" in res.stdout) == ok, res.stdout
    ssl.create_default_context(cafile=str(files.ca_cert))  # loadable as a trust anchor
    assert "listener" in files.listener_conf.read_text()
