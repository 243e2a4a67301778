"""Composition root: builds the gateway's parts from one ``Settings`` and runs them.

``GatewayRuntime`` owns the long-lived resources (MQTT bus, DB connections, maintenance,
HTTP server); the CLI's ``gateway`` and ``demo`` commands and the end-to-end tests use it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry

from gateway.city import CityHolder
from gateway.dispatch import DispatchConfig, DispatchService
from gateway.edge.uplinks import SiteUplinks
from gateway.ingest.metrics import IngestCollector, StatsCollector
from gateway.ingest.observe import ObservationExtractor
from gateway.ingest.partitions import partitions_of
from gateway.ingest.worker import IngestWorker
from gateway.settings import Settings
from gateway.store.maintenance import MaintenanceLoop
from gateway.store.migrate import migrate
from gateway.triage_svc.config import build_backend, build_shadow
from gateway.triage_svc.service import TriageService
from gateway.webhooks import WebhookConfig, WebhookService

log = logging.getLogger(__name__)


class GatewayRuntime:
    def __init__(self, settings: Settings, *, http: bool = True, client_id: str | None = None,
                 dispatch: DispatchConfig | None = None, webhooks: WebhookConfig | None = None) -> None:
        """``dispatch`` / ``webhooks`` override the configs built from settings (tests, embedding).

        The city pack is read first: a gateway with an unusable pack does not start
        (``citypack.PackError`` lists every problem).
        """
        self.settings = settings
        self.city = CityHolder(settings.city_dir)
        self.registry = CollectorRegistry()
        self.observations = ObservationExtractor(settings.database_url, self._device)
        self.vision: Any = None
        if settings.vision_enabled:
            from gateway.vision_link.sink import VisionConfig, VisionSink  # cv2/torch only when asked for
            from vision.detector import create_detector

            self.vision = VisionSink(VisionConfig.from_settings(settings, zones=zone_map(self.city.pack)),
                                     create_detector, settings.database_url, settings.data_dir)
            sink = self.vision
            self.city.listeners.append(lambda pack: sink.set_zones(zone_map(pack)))
        self.ingest = IngestWorker(settings, ros2=_ros2_router(settings), client_id=client_id,
                                   listeners=[self.observations], frame_sink=self.vision,
                                   partitions=partitions_of(self.city.pack.districts))
        self.registry.register(IngestCollector(self.ingest))
        if self.vision is not None:
            self.registry.register(StatsCollector("vision", self.vision.stats))
        self.triage: TriageService | None = None
        if settings.triage_enabled:
            self.triage = TriageService(settings.database_url, build_backend(settings, city=self.city),
                                        publish=self.ingest.bus.publish, shadow=build_shadow(settings, self.city),
                                        lease_ttl_s=settings.triage_lease_ttl_s)
            triage = self.triage
            self.registry.register(StatsCollector("triage", lambda: vars(triage.stats)))
        self.dispatch: DispatchService | None = None
        if settings.dispatch_enabled:
            self.dispatch = DispatchService(settings.database_url, self.ingest.bus.publish,
                                            dispatch or dispatch_config(settings))
            self.ingest.listeners.append(self.dispatch.on_batch)
            if self.triage is not None:
                self.triage.listeners.append(self.dispatch.on_ticket)
        self.webhooks: WebhookService | None = None
        if settings.webhooks_enabled:
            self.webhooks = WebhookService(settings.database_url, webhooks or WebhookConfig(
                timeout_s=settings.webhook_timeout_s, backoff_base_s=settings.webhook_backoff_base_s,
                backoff_cap_s=settings.webhook_backoff_cap_s, max_attempts=settings.webhook_max_attempts,
                smtp_host=settings.smtp_host, smtp_port=settings.smtp_port, smtp_from=settings.smtp_from,
                smtp_user=settings.smtp_user, smtp_password=settings.smtp_password,
                smtp_starttls=settings.smtp_starttls), city=self.city)
        # Edge sites' uplinks as the city broker sees them (gateway/edge/uplinks.py).
        self.uplinks = SiteUplinks(settings.mqtt_host, settings.mqtt_port,
                                   f"{client_id or settings.mqtt_client_id}-sites", settings.mqtt_username,
                                   settings.mqtt_password, settings.mqtt_tls,
                                   str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None)
        self.registry.register(self.uplinks)
        self.maintenance = MaintenanceLoop(
            settings.database_url, settings.maintenance_interval_s,
            settings.telemetry_retention_days, settings.offline_after_s,
        )
        self.http = http
        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None

    def _device(self, device_id: str) -> tuple[str, str] | None:
        ingestor = self.ingest.ingestor
        return ingestor.devices.get(device_id) if ingestor is not None else None

    def health(self) -> dict[str, str]:
        return self.ingest.health()

    def build_app(self) -> Any:
        from gateway.api.app import create_app

        return create_app(self.settings, registry=self.registry, health=self.health, city=self.city)

    def start(self, *, migrate_first: bool = True) -> GatewayRuntime:
        if migrate_first:
            migrate(self.settings.database_url)
        if self.vision is not None:
            self.vision.start()
        self.ingest.start()
        self.uplinks.start()
        self.maintenance.start()
        for service in (self.triage, self.dispatch, self.webhooks):
            if service is not None:
                service.start()
        if self.http:
            config = uvicorn.Config(
                self.build_app(), host=self.settings.http_host, port=self.settings.http_port,
                log_level="warning", lifespan="on",
                timeout_graceful_shutdown=5,  # open live-feed streams must not hold shutdown
            )
            self._server = uvicorn.Server(config)
            self._server_thread = threading.Thread(target=self._server.run, name="http", daemon=True)
            self._server_thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._server_thread:
                self._server_thread.join(10)
        self.maintenance.stop()
        for service in (self.webhooks, self.dispatch):
            if service is not None:
                service.stop()
        self.ingest.stop()
        self.uplinks.stop()
        if self.vision is not None:
            self.vision.stop()
        if self.triage is not None:
            self.triage.stop()

    @property
    def url(self) -> str:
        return f"http://{self.settings.http_host}:{self.settings.http_port}"


def zone_map(pack: Any) -> Any:
    """Vision's zone rules from the pack's zones.geojson (vision reads no pack itself)."""
    from vision.zones import ZoneMap

    return ZoneMap.from_features(pack.zone_features())


def _ros2_router(settings: Settings) -> Any:
    """The ROS 2 decoder, when the ROS 2 support is installed (rosbags is a core dependency)."""
    try:
        from gateway.ingest.ros2 import Ros2IngestRouter
    except ImportError:
        log.warning("ROS 2 decoding unavailable; ros2 topics will be dead-lettered")
        return None
    return Ros2IngestRouter(settings)


def dispatch_config(settings: Settings) -> DispatchConfig:
    return DispatchConfig(
        auto_categories=frozenset(c.strip() for c in settings.dispatch_auto_categories.split(",") if c.strip()),
        min_battery_pct=settings.dispatch_min_battery_pct, ack_timeout_s=settings.dispatch_ack_timeout_s,
        max_sends=settings.dispatch_max_sends, task_deadline_s=settings.dispatch_task_deadline_s,
        max_tasks_per_ticket=settings.dispatch_max_tasks_per_ticket,
        verify_enabled=settings.dispatch_verify_enabled, verify_min_severity=settings.dispatch_verify_min_severity,
        verify_max_distance_m=settings.dispatch_verify_max_distance_m,
        verify_deadline_s=settings.dispatch_verify_deadline_s,
        verify_confirm_threshold=settings.dispatch_verify_confirm_threshold)
