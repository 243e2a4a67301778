"""All configuration, from ``URBANOPS_*`` environment variables and ``.env``.

This is the only module that reads the environment: entry points build one ``Settings``
and pass it (or the parts a component needs) down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from citypack import DEMO_PACK


def _off_is_none(value: object) -> object:
    return None if isinstance(value, str) and value.strip().lower() in ("", "off", "none") else value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="URBANOPS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_client_id: str = "urbanops-gateway"
    # Empty: one gateway with a plain subscription (survives a Mosquitto restart). Set a group
    # name to split traffic over several gateways ($share/...); Mosquitto 2.0 does not
    # restore shared subscriptions after a broker restart (see docs/security.md).
    mqtt_share_group: str = ""
    # Gateways on several hosts that lose nothing when one of them or the broker goes: the topic
    # space split by (district, kind), each partition leased in the database to one gateway and
    # owned through its own persistent session (gateway/ingest/partitions.py). Overrides the
    # share group. Every gateway of the city must set it, with the same session prefix.
    ingest_partitioned: bool = False
    ingest_lease_ttl_s: float = Field(default=6.0, ge=1.0)
    mqtt_partition_prefix: str = "urbanops-ingest"
    mqtt_ca_file: Path | None = None
    mqtt_session_expiry_s: int = 3600
    mqtt_receive_maximum: int = 20000
    database_url: str = "postgresql://urbanops@127.0.0.1:5432/urbanops"
    # Optional standby for the API's reads that may lag (telemetry history); everything a
    # person acts on reads the primary. With Patroni, list every node and add
    # ``target_session_attrs=prefer-standby`` (README, "Database high availability").
    database_read_url: str | None = None
    db_pool_size: int = 4
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    api_rate_per_s: float = 20.0
    api_rate_burst: int = 60
    api_auth_fail_burst: int = 20
    data_dir: Path = Path("data")
    # The city: districts, zones, places, agencies, SLA, escalation, plans (citypack/README.md).
    # Reloaded on SIGHUP or POST /api/v1/admin/city/reload.
    city_dir: Path = DEMO_PACK
    # An offline base map the city supplies: a raster PMTiles file (PNG/JPEG/WebP tiles) drawn under
    # the pack's layers. None: the map shows the pack's outlines, streets and places on plain ground.
    basemap_pmtiles: Path | None = None

    # ingest
    batch_max_rows: int = 5000
    batch_max_delay_ms: int = Field(default=200, le=250)
    ingest_queue_size: int = 50_000
    dedupe_cache_size: int = 200_000
    max_clock_skew_s: float = 300.0
    max_future_s: float = 86_400.0
    telemetry_retention_days: int = 30
    maintenance_interval_s: float = 300.0
    offline_after_s: float = 120.0
    # After this long without the database, batches go to a local journal and are acked.
    spill_after_s: float = 2.0
    spill_max_bytes: int = 2 * 1024**3

    # ROS 2: message definitions of this distro decode ``.../ros2/...`` topics
    ros2_distro: str = "humble"

    # closed loop: dispatch of robots for tickets, agency webhooks
    dispatch_enabled: bool = True
    dispatch_auto_categories: str = "sanitation"  # comma list; other categories wait for approval
    dispatch_min_battery_pct: float = 30.0
    dispatch_ack_timeout_s: float = 10.0
    dispatch_max_sends: int = 3
    dispatch_task_deadline_s: float = 1800.0
    dispatch_max_tasks_per_ticket: int = 4
    # Single-source high-severity incidents: the nearest drone goes to look.
    dispatch_verify_enabled: bool = True
    dispatch_verify_min_severity: str = "high"
    dispatch_verify_max_distance_m: float = 5000.0
    dispatch_verify_deadline_s: float = 600.0
    dispatch_verify_confirm_threshold: float = 0.5
    webhooks_enabled: bool = True
    webhook_timeout_s: float = 5.0
    webhook_backoff_base_s: float = 2.0
    webhook_backoff_cap_s: float = 300.0
    webhook_max_attempts: int = 12
    # e-mail channels of the city pack's agencies go out through this relay (none: e-mail fails visibly)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "urbanops@localhost"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False

    # vision (off by default: it loads torch; the frames come from drones and robots)
    vision_enabled: bool = False
    vision_imgsz: int = 640
    vision_conf: float = 0.25
    vision_batch: int = 4
    vision_min_confidence: float = 0.35
    vision_redact: bool = True
    vision_label_map: dict[str, str] = {}
    yolo_weights: Path | None = None  # None: the committed vision/weights/urban-yolov8n.pt
    # What runs the detector: torch (Ultralytics on PyTorch), onnxruntime or openvino (the
    # exported .onnx beside the weights); auto: openvino on a CPU where the exported graph is
    # there (measured fastest, vision/weights/README.md), torch otherwise (GPUs).
    vision_runtime: Literal["auto", "torch", "onnxruntime", "openvino"] = "auto"
    vision_threads: int = 0  # CPU threads for onnxruntime/openvino; 0: the runtime's default
    # openvino: the INT8 model (<weights stem>-int8.xml) instead of the .onnx. Off: it is 1.3x
    # faster but draws extra boxes beside some objects (vision/weights/README.md).
    vision_int8: bool = False
    device: str = "cpu"
    vision_queue_size: int = 64

    # triage
    # Any number of processes may triage one database: they lease the city's partitions
    # (districts hashed into 16) and rebuild correlation state from it on takeover.
    triage_enabled: bool = True
    # A dead worker's partitions move after at most this long (renewed every third of it).
    triage_lease_ttl_s: float = 6.0
    triage_backend: str = "learned"  # learned (text model under the rules' policy) | rules | llm
    triage_model: Path | None = None  # pinned model file; None: the registry's active one, else the shipped one
    triage_shadow_model: Path | None = None  # a candidate audited beside the live model, never acted on
    # Share of the learned model's tickets the duty office reviews, least confident first
    # (triage/learned/budget.py); "off": the model file's fixed threshold instead.
    triage_review_budget: Annotated[float | None, BeforeValidator(_off_is_none)] = Field(
        default=0.20, ge=0.0, le=1.0)
    city_timezone: str | None = None  # None: the city pack's time zone
    pii_salt: str = "urbanops"  # set a secret per deployment: placeholders' hashes link reports, not people
    llm_model: Path | None = None
    llm_timeout_s: float = 20.0
    llm_max_tokens: int = 384
    llm_threads: int | None = None
    llm_ctx: int = 2048

    @property
    def mqtt_host(self) -> str:
        return urlsplit(self.mqtt_url).hostname or "127.0.0.1"

    @property
    def mqtt_port(self) -> int:
        parts = urlsplit(self.mqtt_url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def mqtt_username(self) -> str | None:
        return urlsplit(self.mqtt_url).username

    @property
    def mqtt_password(self) -> str | None:
        return urlsplit(self.mqtt_url).password

    @property
    def mqtt_tls(self) -> bool:
        return urlsplit(self.mqtt_url).scheme == "mqtts"
