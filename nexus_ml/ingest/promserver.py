"""A throwaway Prometheus on a loopback port: over backfilled blocks, with our rules.

Used by the integration tests and the ingest benchmark, and handy to inspect a backfill by hand.
It is started and stopped by its own PID; nothing else is touched.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx

from nexus_ml.errors import IngestError
from nexus_ml.logs import get_logger

log = get_logger(__name__)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalPrometheus:
    """A Prometheus process bound to ``127.0.0.1`` with its TSDB in ``tsdb_dir``.

    Parameters
    ----------
    tsdb_dir
        ``--storage.tsdb.path``; put backfilled blocks here before :meth:`start`.
    rule_files
        Rule files (recording, alerting) to load.
    scrape_targets
        ``host:port`` targets scraped every ``scrape_interval`` under the job ``nexus``.
    retention
        Long, so that backfilled history is never deleted as too old.
    """

    def __init__(
        self,
        tsdb_dir: Path,
        *,
        rule_files: tuple[Path, ...] = (),
        scrape_targets: tuple[str, ...] = (),
        scrape_interval: str = "1s",
        retention: str = "3650d",
        binary: str = "prometheus",
        port: int | None = None,
    ) -> None:
        self.tsdb_dir = tsdb_dir
        self.rule_files = rule_files
        self.scrape_targets = scrape_targets
        self.scrape_interval = scrape_interval
        self.retention = retention
        self.binary = binary
        self.port = port or free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        config = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "evaluation_interval": self.scrape_interval,
            },
            "rule_files": [str(p.resolve()) for p in self.rule_files],
            "scrape_configs": [
                {"job_name": "nexus", "static_configs": [{"targets": list(self.scrape_targets)}]}
            ]
            if self.scrape_targets
            else [],
        }
        path = self.tsdb_dir / "prometheus.yml"
        path.write_text(json.dumps(config, indent=2), encoding="utf-8")  # JSON is YAML
        return path

    def start(self, timeout_s: float = 30.0) -> LocalPrometheus:
        """Start the server and wait until it is ready.

        Raises
        ------
        IngestError
            When the binary is missing or the server is not ready in time (with its log tail).
        """
        binary = shutil.which(self.binary)
        if binary is None:
            raise IngestError(f"prometheus binary not found ({self.binary!r})")
        self.tsdb_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        log_path = self.tsdb_dir / "prometheus.log"
        with log_path.open("wb") as log_file:
            self._proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.tsdb_dir}",
                    f"--storage.tsdb.retention.time={self.retention}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--web.enable-lifecycle",
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    log.info("promserver.ready", url=self.url, pid=self._proc.pid)
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
        self.stop()
        raise IngestError(f"local prometheus on {self.url} did not start: {' | '.join(tail)}")

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def __enter__(self) -> LocalPrometheus:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
