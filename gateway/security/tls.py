"""Self-signed TLS material for Mosquitto's TLS listener, made with the ``openssl`` CLI.

``make_certs(out, hosts=[...])`` writes a CA (``ca.crt``/``ca.key``) and a server
certificate signed by it (``server.crt``/``server.key``, with every host as a subjectAltName),
plus ``listener.conf``: the lines that add a TLS listener to a ``mosquitto.conf``.
Clients trust ``ca.crt`` (``BusConfig(tls=True, ca_file=...)``, ``mosquitto_pub --cafile``).

An existing CA in ``out`` is reused, so re-running only renews the server certificate and
clients keep trusting the same CA. For production, use certificates from the city's own CA;
this is for tests, labs and closed networks. (The ``cryptography`` package would do the
same in-process; it is not a dependency, and every target machine has ``openssl``.)
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOSTS = ("localhost", "127.0.0.1")
TLS_PORT = 8883
_CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


class TlsError(RuntimeError):
    """openssl is missing or failed."""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    out: Path
    port: int

    @property
    def ca_cert(self) -> Path:
        return self.out / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.out / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.out / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.out / "server.key"

    @property
    def listener_conf(self) -> Path:
        return self.out / "listener.conf"


def subject_alt_names(hosts: Sequence[str]) -> str:
    names = []
    for host in hosts:
        try:
            names.append(f"IP:{ipaddress.ip_address(host)}")
        except ValueError:
            names.append(f"DNS:{host}")
    return ",".join(names)


def listener_lines(files: TlsFiles, *, bind: str | None = None) -> list[str]:
    """A TLS listener for mosquitto.conf. Authentication (password_file, acl_file,
    allow_anonymous) is global in Mosquitto 2.0, so it covers this listener too."""
    return [
        f"listener {files.port}{f' {bind}' if bind else ''}",
        f"certfile {files.server_cert}",
        f"keyfile {files.server_key}",
        "tls_version tlsv1.2",  # the minimum; TLS 1.3 is negotiated when both sides have it
    ]


def _openssl(*args: str, openssl: str) -> None:
    try:
        subprocess.run([openssl, *args], check=True, capture_output=True, text=True)
    except FileNotFoundError as err:
        raise TlsError(f"{openssl} not found: install the openssl package") from err
    except subprocess.CalledProcessError as err:
        raise TlsError(f"openssl {args[0]} failed: {err.stderr.strip()[-500:]}") from err


def make_certs(out: Path, *, hosts: Sequence[str] = DEFAULT_HOSTS, days: int = 825,
               port: int = TLS_PORT, bind: str | None = None, openssl: str = "openssl") -> TlsFiles:
    """Write (or reuse) the CA, issue a fresh server certificate for ``hosts``, write listener.conf."""
    if not hosts:
        raise TlsError("at least one host name or address is needed")
    if shutil.which(openssl) is None:
        raise TlsError(f"{openssl} not found: install the openssl package")
    out.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(out, port)
    old_umask = os.umask(0o077)  # private keys are never readable by others, not even briefly
    try:
        if not (files.ca_cert.exists() and files.ca_key.exists()):
            _openssl("req", "-x509", *_CURVE, "-keyout", str(files.ca_key), "-out", str(files.ca_cert),
                     "-days", str(days), "-subj", "/O=urbanops/CN=urbanops MQTT CA",
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                     "-addext", "subjectKeyIdentifier=hash", openssl=openssl)
        csr, ext = out / "server.csr", out / "server.ext"
        ext.write_text(
            f"subjectAltName={subject_alt_names(hosts)}\n"
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid,issuer\n"
        )
        try:
            _openssl("req", *_CURVE, "-keyout", str(files.server_key), "-out", str(csr),
                     "-subj", f"/O=urbanops/CN={hosts[0]}", openssl=openssl)
            _openssl("x509", "-req", "-in", str(csr), "-CA", str(files.ca_cert), "-CAkey", str(files.ca_key),
                     "-set_serial", f"0x{secrets.token_hex(16)}", "-days", str(days), "-sha256",
                     "-extfile", str(ext), "-out", str(files.server_cert), openssl=openssl)
        finally:
            csr.unlink(missing_ok=True)
            ext.unlink(missing_ok=True)
    finally:
        os.umask(old_umask)
    for cert in (files.ca_cert, files.server_cert):
        cert.chmod(0o644)  # certificates are public
    for key in (files.ca_key, files.server_key):
        key.chmod(0o600)
    files.listener_conf.write_text("# TLS listener for mosquitto.conf (urbanops devices tls-certs)\n"
                                   + "\n".join(listener_lines(files, bind=bind)) + "\n")
    return files
