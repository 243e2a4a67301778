"""No raw frame, face or plate reaches disk, the database, the logs, the API or the LLM prompt.

A gateway with vision on receives two real photos with faces (one with a painted licence
plate) over MQTT; the urban detector reports on both, so evidence images are kept and tickets
made. Then every artefact is searched: every file the gateway wrote (data dir, spill dir, its
temp dir, its log), every text/JSON/bytea column of every table, every API response the
dashboard uses and the evidence images it serves, and the prompt the LLM backend would get for
each incident. The checks themselves are shown to fire in ``test_privacy_checks.py``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import httpx
import numpy as np
import psycopg

from devices.payloads import FrameMeta
from gateway.local_services import Mosquitto, free_port
from gateway.security.auth import Role
from tests.api.conftest import Db
from tests.hardening.privacy_checks import JPEG_MARKERS, detail_kept, exposed, find, locate, needles, visible
from tests.hardening.privacy_scene import Frame, frames
from tests.helpers import Publisher, scalar, scrape, start_gateway, wait_for, wait_gateway_subscribed
from tests.vision.scenario import CENTRE
from triage.models import Incident
from triage.prompting import build_messages, load_prompt
from triage.rules import assess_rules
from vision.privacy import FaceDetector

DEVICE = "priv-drone-1"
TEXT_TYPES = ("text", "character varying", "jsonb", "json", "ARRAY", "USER-DEFINED")


def publish_frames(port: int, scene: list[Frame]) -> None:
    pub = Publisher(port, f"priv-pub-{time.monotonic_ns()}")
    t0 = datetime.now(UTC).replace(microsecond=0)
    for i, frame in enumerate(scene):
        meta = FrameMeta(ts=t0 + timedelta(seconds=i), msg_id=frame.name, lat=CENTRE.lat, lon=CENTRE.lon,
                         alt_m=20.0, heading_deg=0.0, pitch_deg=-90.0, hfov_deg=70.0)
        pub.publish(f"city/futian/drone/{DEVICE}/frame", frame.jpeg, meta.to_user_properties())
    pub.close()
    assert pub.acked == len(scene)


def database_dump(db_url: str) -> bytes:
    """Every text, JSON, array and bytea value of every table, as bytes."""
    out: list[bytes] = []
    with psycopg.connect(db_url) as conn:
        cols = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns c"
            " JOIN information_schema.tables t USING (table_schema, table_name)"
            " WHERE table_schema = 'public' AND t.table_type = 'BASE TABLE'"
            " AND data_type IN ('text','character varying','jsonb','json','ARRAY','USER-DEFINED','bytea')").fetchall()
        assert len(cols) > 30, cols  # the schema's text columns, not an empty search
        for table, column, dtype in cols:
            expr = f'"{column}"' if dtype == "bytea" else f'"{column}"::text'
            for (value,) in conn.execute(f'SELECT {expr} FROM "{table}" WHERE "{column}" IS NOT NULL'):
                out.append(bytes(value) if dtype == "bytea" else str(value).encode())
    return b"\n".join(out)


def api_artefacts(base: str, token: str) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(text responses, evidence images) of every read endpoint the dashboard and city systems use."""
    auth = {"Authorization": f"Bearer {token}"}
    texts: dict[str, bytes] = {}
    images: dict[str, bytes] = {}

    def get(path: str) -> httpx.Response:
        r = httpx.get(base + path, headers=auth, timeout=30)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        texts[path] = r.content
        return r

    incidents = get("/api/v1/incidents?limit=100").json()["items"]
    for inc in incidents:
        for obs in get(f"/api/v1/incidents/{inc['incident_id']}").json()["observations"]:
            if obs.get("evidence_url"):
                r = httpx.get(base + obs["evidence_url"], headers=auth, timeout=30)
                assert r.status_code == 200, obs["evidence_url"]
                images[obs["evidence_url"]] = r.content
    for ticket in get("/api/v1/tickets").json()["items"]:
        get(f"/api/v1/tickets/{ticket['ticket_id']}")
        get(f"/api/v1/tickets/{ticket['ticket_id']}/cap")
    for path in ("/api/v1/incidents.geojson", "/api/v1/alerts.atom", "/api/v1/devices", "/api/v1/devices/probe-0001",
                 "/api/v1/dead-letters", "/api/v1/map/layers.geojson", "/open311/v2/requests.json", "/metrics",
                 "/healthz", "/"):
        get(path)
    return texts, images


def prompts(db_url: str) -> bytes:
    """The messages the LLM backend would send for each stored incident (same builder, same limits)."""
    prompt = load_prompt()
    with psycopg.connect(db_url) as conn:
        bodies = [r[0] for r in conn.execute("SELECT body FROM incidents")]
    out = []
    for body in bodies:
        incident = Incident.model_validate(body)
        out.append(json.dumps(build_messages(prompt, incident, assess_rules(incident), 12, 300)).encode())
    return b"\n".join(out)


def check_evidence(name: str, data: bytes, scene: dict[str, Frame], faces: dict[str, list[tuple[float, ...]]]
                   ) -> tuple[int, int, float]:
    """Assert every face and plate of the frame that this stored image (the frame or a crop of
    it) shows is blurred. Returns (faces shown, plates shown, the most original detail any of
    them kept: ~1 unredacted, ~0 blurred)."""
    frame = next(f for key, f in scene.items() if f"{DEVICE}-{key}." in name)
    stored = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert stored is not None, name
    face_boxes = [(b[0], b[1], b[2], b[3]) for b in faces[frame.name]]
    assert exposed(stored, frame.image, face_boxes + frame.plates) == [], name
    shown = visible(stored, frame.image, face_boxes + frame.plates)
    x0, y0 = locate(stored, frame.image)
    area = frame.image[y0:y0 + stored.shape[0], x0:x0 + stored.shape[1]]
    kept = max((detail_kept(stored, area, part) for _b, part in shown), default=0.0)
    return sum(b in face_boxes for b, _p in shown), sum(b in frame.plates for b, _p in shown), kept


def test_no_raw_frame_face_or_plate_in_any_artefact(broker: Mosquitto, db_url: str, tmp_path: Path) -> None:
    scene = {f.name: f for f in frames()}
    detector = FaceDetector()
    faces: dict[str, list[tuple[float, ...]]] = {name: list(detector.detect(f.image)) for name, f in scene.items()}
    assert all(len(boxes) >= 2 for boxes in faces.values()), faces  # real faces, or the test proves nothing
    wanted = {k: v for f in scene.values() for k, v in needles(f.name, f.jpeg).items()}
    gw_tmp = tmp_path / "gw-tmp"
    gw_tmp.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "gw.log"
    gw = start_gateway(broker.url, db_url, log, client_id=f"gw-privacy-{time.monotonic_ns()}", http_port=port,
                       extra_env={"URBANOPS_VISION_ENABLED": "true", "TMPDIR": str(gw_tmp)})
    try:
        wait_gateway_subscribed(db_url, broker.port)
        assert wait_for(lambda: scrape(base).get("urbanops_vision_ready") == 1, 240, 1.0), log.read_text()[-2000:]
        publish_frames(broker.port, list(scene.values()))
        evidence_q = f"SELECT count(DISTINCT evidence_path) FROM observations WHERE device_id = '{DEVICE}'"
        assert wait_for(lambda: scalar(db_url, evidence_q) == len(scene), 180, 1.0), (
            scrape(base), scalar(db_url, "SELECT count(*) FROM observations"))
        assert wait_for(lambda: scalar(db_url, "SELECT count(*) FROM triage_inbox") == 0
                        and scalar(db_url, "SELECT count(*) FROM tickets") >= 1, 60, 1.0)
        metrics = scrape(base)  # the sink's own account, checked after the artefacts themselves
        token = Db(db_url).token(Role.OPERATOR, name="privacy-audit")[1]
        api_texts, api_images = api_artefacts(base, token)
    finally:
        gw.terminate()
        gw.wait(30)
    # 1. Files: only redacted evidence images are images; nothing holds a frame or an encoding of one.
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    evidence = [p for p in files if "evidence" in p.parts]
    assert len(evidence) == len(scene), files
    kept, faces_shown, plates_shown = 0.0, 0, 0
    for path in files:
        data = path.read_bytes()
        assert find(data, wanted) == [], path
        if path in evidence:
            n_faces, n_plates, detail = check_evidence(path.name, data, scene, faces)
            kept, faces_shown, plates_shown = max(kept, detail), faces_shown + n_faces, plates_shown + n_plates
        else:
            assert find(data, JPEG_MARKERS) == [], path  # no other image anywhere: logs, journal, temp
    # The evidence must show faces and the plate, or there was nothing to find blurred.
    assert faces_shown >= 2 and plates_shown >= 1, (faces_shown, plates_shown)
    # 2. Database: every text, JSON and bytea value of every table.
    dump = database_dump(db_url)
    assert find(dump, wanted) == [] and find(dump, JPEG_MARKERS) == []
    with psycopg.connect(db_url) as conn:
        labels = {str(r[0]) for r in conn.execute("SELECT label FROM observations WHERE source = 'vision'")}
    assert labels and all(label.encode() in dump for label in labels)  # these frames' observations
    # 3. API: every response; the evidence images it serves are redacted too.
    assert len(api_images) == len(scene)
    for url, data in api_images.items():
        assert find(data, wanted) == [], url
        check_evidence(url, data, scene, faces)
    for route, body in api_texts.items():
        assert find(body, wanted) == [] and find(body, JPEG_MARKERS) == [], route
    # 4. What the LLM would be told about these incidents.
    told = prompts(db_url)
    assert all(label.encode() in told for label in labels)
    assert find(told, wanted) == [] and find(told, JPEG_MARKERS) == []
    assert metrics["urbanops_vision_faces_blurred"] >= faces_shown
    assert metrics["urbanops_vision_plates_blurred"] >= plates_shown
    searched = sum(p.stat().st_size for p in files) + len(dump) + sum(map(len, api_texts.values())) + len(told)
    print(f"privacy: {len(files)} files, {len(dump)} B of database text, {len(api_texts)} API responses, "
          f"{len(api_images)} evidence images, {len(told)} B of prompts ({searched / 1e6:.1f} MB) searched; "
          f"{faces_shown} faces and {plates_shown} plate shown in evidence, all blurred (detail kept <= {kept:.2f});"
          " no frame excerpt found")



