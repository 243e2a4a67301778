"""Another city, no code change: with ``URBANOPS_CITY_DIR`` on the fictional harbour pack, a
simulated fleet in its districts runs its own scenario through MQTT, the gateway and TimescaleDB,
and the flood ticket carries the pack's district, place names, SLA and plan citations."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import psycopg

from citypack import SHIPPED, load_pack
from gateway.local_services import Mosquitto
from simulators.fleet import run_fleet
from tests.helpers import scalar, start_gateway, wait_for, wait_gateway_subscribed
from tests.simulators.fleet_util import run_tag, small

HARBOUR = SHIPPED / "harbour-demo"


def test_harbour_pack_runs_end_to_end(db_url: str, tmp_path: Path) -> None:
    pack = load_pack(HARBOUR)
    tag = run_tag()
    # A broker of its own: the simulators' device ids (aq-0001, robot-01, ...) are the same in every
    # city, and the shared broker's retained status messages would register them in futian, or
    # this fleet's would haunt later tests.
    broker = Mosquitto(tmp_path / "mq").start()
    gw = start_gateway(broker.url, db_url, tmp_path / "gw.log", client_id=f"gw-city-{tag}",
                       extra_env={"URBANOPS_CITY_DIR": str(HARBOUR)})
    try:
        wait_gateway_subscribed(db_url, broker.port)
        report = run_fleet(small(sensors=28, robots=2, drones=1, rate=1.0, duration_s=60.0, run_id=tag,
                                 city_dir=HARBOUR, districts=tuple(pack.districts),
                                 scenario=HARBOUR / "scenarios" / "demo.yaml"), broker.url)
        assert report.unacked == 0
        devices = "SELECT count(DISTINCT district) FROM devices WHERE district IN ('oldport', 'hillside')"
        assert wait_for(lambda: scalar(db_url, devices) == 2, 60)
        # Only the pack's districts (and the helper's subscription probe) appear.
        others = "SELECT count(*) FROM devices WHERE district NOT IN ('oldport', 'hillside', 'probe')"
        assert scalar(db_url, others) == 0
        flood = "SELECT count(*) FROM tickets WHERE category = 'flood' AND district = 'oldport'"
        assert wait_for(lambda: scalar(db_url, flood) >= 1, 90), (tmp_path / "gw.log").read_text()[-3000:]
        with psycopg.connect(db_url) as conn:
            body = conn.execute("SELECT body FROM tickets WHERE category = 'flood' AND district = 'oldport'"
                                " ORDER BY created_at LIMIT 1").fetchone()[0]  # type: ignore[index]
    finally:
        gw.terminate()
        gw.wait(20)
        broker.stop()
    lang = body["language"]
    loc = body["location"]
    expected = pack.address(loc["lat"], loc["lon"], lang, "oldport")
    assert expected.place and expected.district_name  # a named place of the harbour within reach
    assert loc["address"] == expected.text(lang) and expected.text(lang) in body["summary"]
    assert f"{loc['lat']:.5f}" not in body["summary"]  # names, not coordinates
    due = datetime.fromisoformat(body["sla_due"]) - datetime.fromisoformat(body["opened_at"])
    assert due == pack.config.sla.due_after("flood", body["severity"])  # the harbour's flood SLA, not Shenzhen's
    # Its actions cite the harbour's storm-surge plan (Shenzhen's plans are not in this pack).
    cited = [(c["plan"], c["lang"]) for c in body["citations"]]
    assert cited and cited[0] == ("storm-surge", lang), body["citations"]
    assert any(f"section {body['citations'][0]['section']}" in a or f"第{body['citations'][0]['section']}节" in a
               for a in body["actions"])
