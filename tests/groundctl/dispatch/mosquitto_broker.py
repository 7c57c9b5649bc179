"""A real mosquitto broker for tests: free loopback port, generated config, persistence,
optional TLS (certificates from a generated CA, via the openssl CLI) and password file.
It can be killed (SIGKILL, like a crash) or stopped, and restarted on the same port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@dataclass(frozen=True)
class Certs:
    ca: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing here: a client trusting only it must refuse


def make_certs(directory: Path) -> Certs:
    """A test CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    d = directory
    d.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for name in ("ca", "other-ca"):
        _openssl(
            "req", "-x509", *ec, "-keyout", f"{name}.key", "-out", f"{name}.pem",
            "-days", "2", "-subj", f"/CN=groundctl test {name}", cwd=d,
        )  # fmt: skip
    (d / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
    )
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, cn in (("server", "127.0.0.1"), ("client", "groundctl-station")):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={cn}", cwd=d)  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
            cwd=d,
        )  # fmt: skip
    return Certs(
        d / "ca.pem",
        d / "ca.key",
        d / "server.pem",
        d / "server.key",
        d / "client.pem",
        d / "client.key",
        d / "other-ca.pem",
    )


class Mosquitto:
    """One broker process. `kill()` is a crash (SIGKILL), `stop()` a clean shutdown; both keep
    the port and the persistence file, so `start()` brings back the same broker."""

    def __init__(
        self,
        directory: Path,
        *,
        users: dict[str, str] | None = None,
        certs: Certs | None = None,
        require_client_cert: bool = False,
    ) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tls = certs is not None
        self.proc: subprocess.Popen[bytes] | None = None
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {self.dir}/",
            "autosave_interval 1",
            "max_queued_messages 100000",
            f"log_dest file {self.dir}/mosquitto.log",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            # As root, mosquitto would switch to the `mosquitto` user and lose access to
            # the test's private temp dir.
            "user root" if os.geteuid() == 0 else "",
        ]
        if users:
            pw = self.dir / "passwords"
            pw.write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
            subprocess.run([MOSQUITTO_PASSWD, "-U", str(pw)], check=True, timeout=30)
            lines += [f"password_file {pw}", "allow_anonymous false"]
        else:
            lines.append("allow_anonymous true")
        if certs is not None:
            lines += [
                f"cafile {certs.ca}",
                f"certfile {certs.server_cert}",
                f"keyfile {certs.server_key}",
                f"require_certificate {'true' if require_client_cert else 'false'}",
            ]
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text("\n".join(line for line in lines if line) + "\n")

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        deadline = time.monotonic() + timeout_s
        while True:
            self.proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return
                except OSError:
                    time.sleep(0.05)
            err = b"" if self.proc.stderr is None else self.proc.stderr.read()
            if time.monotonic() >= deadline:
                self.kill()
                raise RuntimeError(f"mosquitto did not start: {err.decode(errors='replace')}")
            time.sleep(0.3)  # port still held after a crash: try again

    def kill(self) -> None:
        """A crash: SIGKILL, no chance to save anything."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """A clean shutdown: mosquitto saves its persistence file."""
        self._signal(signal.SIGTERM)

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()

    def log(self) -> str:
        path = self.dir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""
