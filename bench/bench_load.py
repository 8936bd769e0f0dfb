"""Load benchmark with ``wrk``: ``GET /v1/decisions`` against a bare FastAPI endpoint, same run.

A Python load client on 2 cores measures itself, so the load comes from ``wrk`` (Debian package
``wrk``, installed with apt when missing). Both servers are uvicorn processes with one worker on
127.0.0.1; the decision service runs its embedded default (the simulator as metric source,
rules or local champions). Each target is loaded for ``DURATION_S`` seconds at 10 and 50
connections after a short warm-up. Printed: requests/s, p50 and p99 latency (ms) and the ratios
to the bare endpoint. Targets (issue 19): >= 1,000 decisions/s, >= 0.6 x the bare throughput,
p99 <= 5 x the bare p99. Writes ``bench/results/load.json``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DURATION_S = int(os.environ.get("BENCH_LOAD_SECONDS", "10"))
CONNECTIONS = (10, 50)
TOKEN = "bench-load-token-7f3a9c2e5b1d4068"
BARE_APP = """
from fastapi import FastAPI
app = FastAPI()

@app.get("/bare")
async def bare() -> dict[str, str]:
    return {"status": "ok"}
"""


def _wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, env=env)
        found = shutil.which("wrk")
        if found is None:
            subprocess.run(["apt-get", "update", "-q"], check=True)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, env=env)
            found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed and apt could not install it")
    return found


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(app: str, cwd: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = _port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=cwd,
        env=env,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc, port
        except OSError as exc:
            if getattr(exc, "code", None) == 404:  # the bare app has no /healthz: it is up
                return proc, port
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"{app} did not start")


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _load(wrk: str, url: str, connections: int, headers: list[str]) -> dict[str, float]:
    args = [wrk, "-t2", f"-c{connections}", f"-d{DURATION_S}s", "--latency", "--timeout", "5s"]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    parsed = {k: re.match(r"([\d.]+)(\w+)", v) for k, v in lat.items()}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(*parsed["50"].groups()),  # type: ignore[union-attr]
        "p99_ms": _ms(*parsed["99"].groups()),  # type: ignore[union-attr]
        "non_2xx": float(errors.group(1)) if errors else 0.0,
        "socket_errors": 1.0 if socket_errors else 0.0,
    }


def main() -> None:
    wrk = _wrk()
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    (tmp / "bare_app.py").write_text(BARE_APP)
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}:{tmp}",
        "NEXUS_API_TOKEN": TOKEN,
        "NEXUS_STATE_DIR": str(tmp / "state"),
        "NEXUS_CONFIG": str(tmp / "none.yaml"),
    }
    for name in ("NEXUS_PROMETHEUS_URL", "NEXUS_MLFLOW_TRACKING_URI", "NEXUS_PG_DSN"):
        env.pop(name, None)
    bare, bare_port = _serve("bare_app:app", tmp, env)
    service, service_port = _serve("service.asgi:app", ROOT, env)
    auth = [f"Authorization: Bearer {TOKEN}"]
    results: dict[str, dict[str, float]] = {}
    try:
        _load(wrk, f"http://127.0.0.1:{bare_port}/bare", 10, [])  # warm-up, discarded
        _load(wrk, f"http://127.0.0.1:{service_port}/v1/decisions", 10, auth)
        for c in CONNECTIONS:
            results[f"bare c={c}"] = _load(wrk, f"http://127.0.0.1:{bare_port}/bare", c, [])
            results[f"decisions c={c}"] = _load(
                wrk, f"http://127.0.0.1:{service_port}/v1/decisions", c, auth
            )
    finally:
        for proc in (bare, service):
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'target':18} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, r in results.items():
        print(
            f"{name:18} {r['rps']:9.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['non_2xx']:8.0f}"
        )
    checks = {}
    for c in CONNECTIONS:
        d, b = results[f"decisions c={c}"], results[f"bare c={c}"]
        ratio, p99x = d["rps"] / b["rps"], d["p99_ms"] / b["p99_ms"]
        checks[c] = {
            "decisions_per_s>=1000": d["rps"] >= 1000,
            "throughput_ratio>=0.6": ratio >= 0.6,
            "p99_ratio<=5": p99x <= 5,
        }
        print(
            f"c={c}: decisions/s {d['rps']:.0f}, {ratio:.2f} x bare throughput, "
            f"p99 {p99x:.1f} x bare; "
            + ", ".join(f"{k}: {'ok' if v else 'MISSED'}" for k, v in checks[c].items())
        )
    out = ROOT / "bench" / "results" / "load.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"results": results, "checks": {str(k): v for k, v in checks.items()}}, indent=2)
    )


if __name__ == "__main__":
    main()
