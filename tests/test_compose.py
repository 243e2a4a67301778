"""The production stack (docker-compose.yml, Dockerfile, deploy/) without Docker: the YAML
parses, services are wired with health checks, every referenced file exists, and the
shipped Mosquitto config, ACL and password script work with a real local broker."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.local_services import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
MOSQUITTO_DIR = ROOT / "deploy" / "mosquitto"
HA_SERVICES = ("etcd", "pg-ha-1", "pg-ha-2")


def _one_shot(svc: dict[str, Any]) -> bool:
    return svc.get("restart") == "no"


def test_services_and_images() -> None:
    assert {"timescaledb", "mosquitto", "gateway", "simulator"} <= set(SERVICES)
    assert SERVICES["timescaledb"]["image"] == "timescale/timescaledb:latest-pg17"
    assert SERVICES["mosquitto"]["image"].startswith("eclipse-mosquitto:2")
    assert SERVICES["gateway"]["build"]["dockerfile"] == "Dockerfile"
    assert SERVICES["gateway"]["command"] == ["gateway"]
    assert SERVICES["simulator"]["profiles"] == ["sim"]
    assert SERVICES["simulator"]["command"][0] == "simulate"
    # GPU workers are opt-in profiles, each with a GPU reservation.
    assert SERVICES["triage-worker"]["profiles"] == ["llm"]
    assert SERVICES["triage-worker"]["command"] == ["triage", "worker"]
    assert SERVICES["vision-worker"]["profiles"] == ["vision"]
    for gpu in ("triage-worker", "vision-worker"):
        devices = SERVICES[gpu]["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["capabilities"] == ["gpu"]
    for name, svc in SERVICES.items():
        if name not in ("simulator", "triage-worker", "vision-worker", *HA_SERVICES):
            assert "profiles" not in svc, f"{name} must run without a profile"
    env = SERVICES["gateway"]["environment"]
    assert all(k.startswith("URBANOPS_") for k in env)
    assert "@timescaledb:5432/" in env["URBANOPS_DATABASE_URL"]
    assert "@mosquitto:1883" in env["URBANOPS_MQTT_URL"]


def test_health_checks_and_dependencies() -> None:
    for name, svc in SERVICES.items():
        if _one_shot(svc):
            waiting = [s for s in SERVICES.values()
                       if s.get("depends_on", {}).get(name, {}).get("condition")
                       == "service_completed_successfully"]
            assert waiting, f"one-shot {name} must gate another service"
            continue
        check = svc.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
        for dep, cond in svc.get("depends_on", {}).items():
            assert dep in SERVICES, (name, dep)
            if "profiles" in SERVICES[dep]:  # only a service of the same profile may wait on it
                assert SERVICES[dep]["profiles"] == svc.get("profiles"), f"{name} depends on optional {dep}"
            if not _one_shot(SERVICES[dep]):
                assert cond["condition"] == "service_healthy", (name, dep)
    assert "/healthz" in " ".join(SERVICES["gateway"]["healthcheck"]["test"])


def test_volumes_are_named_and_declared() -> None:
    declared = set(COMPOSE["volumes"])
    used = set()
    for svc in SERVICES.values():
        for spec in svc.get("volumes", []):
            source = spec.split(":")[0]
            if not source.startswith((".", "/")):
                used.add(source)
    assert used == declared
    assert {"pgdata", "mosquitto-data"} <= declared
    data = [v for v in SERVICES["timescaledb"]["volumes"] if v.startswith("pgdata:")]
    assert data == ["pgdata:/var/lib/postgresql/data"]


def test_referenced_files_exist() -> None:
    for name, svc in SERVICES.items():
        build = svc.get("build")
        if build:
            context = ROOT / build["context"]
            assert context.is_dir(), name
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name
        for spec in svc.get("volumes", []):
            source = spec.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "deploy" not in ignored and "pyproject.toml" not in ignored


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.M)
    assert 'ENTRYPOINT ["urbanops"]' in text and 'CMD ["gateway"]' in text
    assert "URBANOPS_HTTP_HOST=0.0.0.0" in text


def test_required_variables_are_documented() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))
    example = (ROOT / "deploy" / "env.example").read_text()
    documented = set(re.findall(r"^([A-Z0-9_]+)=", example, re.M))
    assert used <= documented, used - documented


def test_mosquitto_config_keeps_queued_messages() -> None:
    conf = dict(
        line.split(None, 1) for line in (MOSQUITTO_DIR / "mosquitto.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#") and " " in line
    )
    assert conf["persistence"] == "true"
    assert int(conf["max_queued_messages"]) >= 100_000
    assert conf["allow_anonymous"] == "false"
    mounts = " ".join(SERVICES["mosquitto"]["volumes"])
    assert f":{conf['acl_file']}:" in mounts
    assert f":{conf['persistence_location'].rstrip('/')}" in mounts
    assert f":{os.path.dirname(conf['password_file'])}" in mounts


# ---- the shipped broker config, running -----------------------------------------------

needs_mosquitto = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("mosquitto", "mosquitto_passwd", "mosquitto_pub")),
    reason="mosquitto and its clients are not installed",
)


@pytest.fixture()
def prod_broker(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Mosquitto with deploy/'s config, ACL and password script, on a private port."""
    auth = tmp_path / "auth"
    env = {**os.environ, "MOSQUITTO_AUTH_DIR": str(auth),
           "URBANOPS_MQTT_GATEWAY_PASSWORD": "gw-secret",
           "URBANOPS_MQTT_SIMULATOR_PASSWORD": "sim-secret"}
    subprocess.run(["sh", str(MOSQUITTO_DIR / "make-passwd.sh")], env=env, check=True,
                   capture_output=True)
    subprocess.run(["mosquitto_passwd", "-b", str(auth / "passwd"), "aq-0042", "dev-secret"],
                   check=True)
    port = free_port()
    conf = (MOSQUITTO_DIR / "mosquitto.conf").read_text()
    conf = (conf.replace("/mosquitto/auth/", f"{auth}/")
            .replace("/mosquitto/config/acl", str(MOSQUITTO_DIR / "acl"))
            .replace("/mosquitto/data/", f"{tmp_path}/")
            .replace("listener 1883", f"listener {port} 127.0.0.1"))
    if os.geteuid() == 0:
        conf += "user root\n"  # the test's temp dir is not reachable by user mosquitto
    (tmp_path / "mosquitto.conf").write_text(conf)
    with open(tmp_path / "log", "wb") as log:
        proc = subprocess.Popen(["mosquitto", "-c", str(tmp_path / "mosquitto.conf")],
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        yield port, auth
    finally:
        proc.terminate()
        proc.wait(10)


def _mqtt(tool: str, port: int, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool, "-h", "127.0.0.1", "-p", str(port), "-V", "5", *args],
                          capture_output=True, text=True, timeout=20, **kw)


@needs_mosquitto
def test_shipped_broker_config(prod_broker: tuple[int, Path]) -> None:
    port, auth = prod_broker
    assert (auth / "passwd").stat().st_mode & 0o077 == 0
    users = {line.split(":")[0] for line in (auth / "passwd").read_text().splitlines()}
    assert users == {"gateway", "simulator", "healthcheck", "aq-0042"}
    topic = "city/futian/sensor/aq-0042/telemetry"

    # anonymous clients are refused
    assert _mqtt("mosquitto_pub", port, "-t", topic, "-m", "x").returncode != 0
    # the health check command of the compose file works against this config
    health = (auth / "healthcheck.pw").read_text()
    res = _mqtt("mosquitto_sub", port, "-u", "healthcheck", "-P", health,
                "-t", "$SYS/broker/uptime", "-C", "1", "-W", "5")
    assert res.returncode == 0, res.stderr

    # the gateway's persistent session keeps more than the default 1000 QoS 1 messages
    gw = ("-u", "gateway", "-P", "gw-secret", "-i", "gw-test", "-q", "1", "-c",
          "-x", "3600")
    res = _mqtt("mosquitto_sub", port, *gw, "-t", "city/#", "-E")
    assert res.returncode == 0, res.stderr
    lines = "".join(f"{i}\n" for i in range(3000))
    res = _mqtt("mosquitto_pub", port, "-u", "simulator", "-P", "sim-secret", "-q", "1",
                "-t", "city/futian/sensor/aq-0001/telemetry", "-l", input=lines)
    assert res.returncode == 0, res.stderr
    # ACL: a device writes its own topics only; the simulator may not publish tickets
    for user, pw, denied in [("aq-0042", "dev-secret", "city/futian/sensor/aq-0043/telemetry"),
                             ("simulator", "sim-secret", "city/futian/tickets")]:
        _mqtt("mosquitto_pub", port, "-u", user, "-P", pw, "-q", "1", "-t", denied, "-m", "no")
    res = _mqtt("mosquitto_pub", port, "-u", "aq-0042", "-P", "dev-secret", "-q", "1",
                "-t", topic, "-m", "last")
    assert res.returncode == 0, res.stderr
    res = _mqtt("mosquitto_sub", port, *gw, "-t", "city/#", "-v", "-C", "3001", "-W", "15")
    received = res.stdout.splitlines()
    assert len(received) == 3001, (len(received), res.stderr)
    assert received[-1] == f"{topic} last"
    assert sorted(int(r.split()[1]) for r in received[:-1]) == list(range(3000))


def test_ha_profile() -> None:
    """Profile `ha`: etcd and two Patroni nodes with the settings the failover test runs."""
    for name in HA_SERVICES:
        assert SERVICES[name]["profiles"] == ["ha"]
    names = {SERVICES[n]["environment"]["PATRONI_NAME"] for n in ("pg-ha-1", "pg-ha-2")}
    assert names == {"pg-ha-1", "pg-ha-2"}
    conf = yaml.safe_load((ROOT / "deploy" / "ha" / "patroni.yml").read_text())
    dcs = conf["bootstrap"]["dcs"]
    assert dcs["synchronous_mode"] is True
    assert dcs["loop_wait"] + 2 * dcs["retry_timeout"] <= dcs["ttl"]
    assert dcs["postgresql"]["parameters"]["shared_preload_libraries"] == "timescaledb"
    assert (ROOT / "deploy" / "ha" / "createdb.sh").stat().st_mode & 0o111
    env = SERVICES["gateway"]["environment"]
    assert env["URBANOPS_DATABASE_URL"].startswith("${URBANOPS_DATABASE_URL:-")
    example = (ROOT / "deploy" / "env.example").read_text()
    assert "pg-ha-1:5432,pg-ha-2:5432/urbanops?target_session_attrs=read-write" in example


@pytest.mark.skipif(shutil.which("patroni") is None, reason="Patroni is installed by scripts/bootstrap.sh")
def test_patroni_accepts_the_ha_config(tmp_path: Path) -> None:
    # Patroni's own validator; what only the container has (its host names, binaries, a free
    # port 5432) is left out of the verdict, every key and type is checked.
    env = {**os.environ, "PATRONI_NAME": "pg-ha-1", "PATRONI_RESTAPI_CONNECT_ADDRESS": "pg-ha-1:8008",
           "PATRONI_POSTGRESQL_CONNECT_ADDRESS": "pg-ha-1:5432", "PATRONI_SUPERUSER_USERNAME": "urbanops",
           "PATRONI_SUPERUSER_PASSWORD": "x", "PATRONI_REPLICATION_USERNAME": "replicator",
           "PATRONI_REPLICATION_PASSWORD": "y", "PATRONI_REWIND_USERNAME": "rewinder",
           "PATRONI_REWIND_PASSWORD": "z"}
    result = subprocess.run(["patroni", "--validate-config", str(ROOT / "deploy" / "ha" / "patroni.yml")],
                            env=env, capture_output=True, text=True, timeout=60)
    container_only = ("Name or service not known", "is already in use", "does not contain",
                      "bootstrap.pg_hba", "Temporary failure in name resolution")
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if line.strip() and not any(c in line for c in container_only)]
    assert not problems, problems
