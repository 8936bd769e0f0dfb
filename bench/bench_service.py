"""Decision service latency and throughput against a bare FastAPI endpoint, same run, loopback.

Both apps run under uvicorn in their own subprocess (one worker each); an httpx async client
keeps ``CONCURRENCY`` requests in flight and sends ``REQUESTS`` per target after a warm-up. The
service runs its embedded default (the simulator as metric source) with a real
``SeasonalForecaster`` champion per module in a local model store, so decisions go through the
model path. Targets:

- ``bare``: ``GET /bare`` of a FastAPI app with one async endpoint (the reference);
- ``GET /v1/decisions``: every module (the executor's poll);
- ``POST /v1/decisions``: a module name (window read from the source, cached per minute);
- ``POST /v1/decisions + window``: a module with 60 posted rows (parsed and decided each time).

Reported: p50/p99 latency (ms), throughput (req/s), and each p50 as a ratio of the bare one
(target <= 1.5). Writes ``bench/results/service.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "service.json"
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "2000"))
ROUNDS = 5
WARMUP = 300
TOKEN = uuid.uuid4().hex + uuid.uuid4().hex

BARE_APP = """
from fastapi import FastAPI
app = FastAPI()

@app.get("/bare")
async def bare() -> dict[str, bool]:
    return {"ok": True}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def train_champions(models_dir: Path) -> dict[str, str]:
    """One SeasonalForecaster per field and the scaling risk model per module on a simulated
    week, published as champion."""
    from nexus_ml.catalog import load_catalog
    from nexus_ml.models.forecast.lead_time_risk import LeadTimeRisk
    from nexus_ml.models.forecast.seasonal import SeasonalForecaster
    from nexus_ml.models.registry.local_store import LocalModelStore
    from nexus_ml.models.registry.store import TrainedModule
    from nexus_ml.sim import simulate_history
    from pipelines.train import lead_times_of

    catalog = load_catalog()
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    history = simulate_history(catalog, start=end - timedelta(days=7), days=7, seed=0)
    store = LocalModelStore(models_dir)
    versions = {}
    leads = lead_times_of(catalog)
    for module in catalog.names:
        rows = history[history["module"] == module].set_index("timestamp")
        forecasters = {
            f: SeasonalForecaster().fit(rows[f]) for f in ("requests_per_min", "cpu_usage")
        }
        versions[module] = store.publish(
            TrainedModule(
                module=module,
                forecasters=forecasters,
                detector=None,
                fingerprint=uuid.uuid4().hex,
                promoted=True,
                reason="bench",
                scaler=LeadTimeRisk(lead_time=leads[module]).fit(rows["requests_per_min"]),
            )
        )
    return versions


def cold_decision_ms(state: Path) -> dict[str, float]:
    """In-process cost of one module's decision once its window is read (the metric source's
    query is I/O, measured by the HTTP targets): the strategy's proposal, the anomaly scores
    and the policy. Median of 50 decisions per module."""
    from service.app import create_app
    from service.core.config import ServiceSettings

    settings = ServiceSettings(
        state_dir=state, api_token=TOKEN, prometheus_url=None, mlflow_tracking_uri=None
    )
    app = create_app(settings, poll_models=False)
    engine = app.state.engine
    engine.champions.refresh()
    costs: dict[str, float] = {}
    windows = engine.read_windows(engine.catalog.names)
    for module in engine.catalog.names:
        engine.decide(module, windows[module])  # the first call folds the window in
        samples = []
        for _ in range(50):
            t0 = time.perf_counter()
            decision = engine.decide(module, windows[module])
            samples.append(1000 * (time.perf_counter() - t0))
        assert decision.policy == "model", decision.explanation
        costs[module] = statistics.median(samples)
    return costs


def start(args: list[str], env: dict[str, str], port: int, probe: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=1.0).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(
                f"server exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
            )
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server on port {port} did not become ready")


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    errors: int = 0

    def summary(self) -> dict[str, float]:
        lat = sorted(self.latencies)
        return {
            "p50_ms": 1000 * statistics.median(lat),
            "p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))],
            "throughput_rps": len(lat) / self.wall_s,
            "requests": len(lat),
            "transport_errors": self.errors,
        }


async def load(
    url: str, method: str, body: Any, headers: dict[str, str], n: int, tally: Tally | None
) -> None:
    """``n`` requests with ``CONCURRENCY`` in flight; recorded in ``tally`` unless None."""
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=30.0, headers=headers) as client:

        async def worker(count: int) -> None:
            for _ in range(count):
                t0 = time.perf_counter()
                try:
                    r = await client.request(method, url, json=body)
                except httpx.TransportError:  # counted, not fatal: a loaded machine drops some
                    if tally is not None:
                        tally.errors += 1
                    continue
                if r.status_code != 200:
                    raise RuntimeError(f"{method} {url}: {r.status_code} {r.text[:300]}")
                if tally is not None:
                    tally.latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(n // CONCURRENCY) for _ in range(CONCURRENCY)))
        if tally is not None:
            tally.wall_s += time.perf_counter() - t0


def measure(
    targets: list[tuple[str, str, str, Any, dict[str, str]]],
) -> dict[str, dict[str, float]]:
    """Warm every target up, then run them in interleaved rounds so drift hits all alike."""
    tallies = {name: Tally() for name, *_ in targets}
    for _, url, method, body, headers in targets:
        asyncio.run(load(url, method, body, headers, WARMUP, None))
    for _ in range(ROUNDS):
        for name, url, method, body, headers in targets:
            asyncio.run(load(url, method, body, headers, REQUESTS // ROUNDS, tallies[name]))
    return {name: t.summary() for name, t in tallies.items()}


def window_rows(n: int = 60) -> list[dict[str, Any]]:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    return [
        {
            "timestamp": (end - timedelta(minutes=n - 1 - i)).isoformat(),
            "cpu_usage": 0.5,
            "memory_usage": 0.4,
            "response_time": 150.0 + i % 5,
            "active_connections": 30,
            "error_rate": 0.004,
            "disk_usage": 0.3,
            "network_latency": 12.0,
            "requests_per_min": 30.0 + (i % 7),
            "replicas": 1,
        }
        for i in range(n)
    ]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        state = Path(tmp)
        t0 = time.perf_counter()
        versions = train_champions(state / "models")
        print(f"trained {len(versions)} champions in {time.perf_counter() - t0:.1f} s")
        cold = cold_decision_ms(state)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
        env.update(
            {
                "NEXUS_STATE_DIR": str(state),
                "NEXUS_API_TOKEN": TOKEN,
                "NEXUS_CONFIG": str(state / "none.yaml"),
            }
        )
        (state / "bare_app.py").write_text(BARE_APP)
        bare_port, svc_port = free_port(), free_port()
        uvicorn = [
            sys.executable,
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        bare = start(
            [*uvicorn, "--port", str(bare_port), "--app-dir", str(state), "bare_app:app"],
            env,
            bare_port,
            "/bare",
        )
        svc = start(
            [*uvicorn, "--port", str(svc_port), "service.asgi:app"], env, svc_port, "/readyz"
        )
        auth = {"Authorization": f"Bearer {TOKEN}"}
        base = f"http://127.0.0.1:{svc_port}"
        targets = [
            ("bare", f"http://127.0.0.1:{bare_port}/bare", "GET", None, {}),
            ("GET /v1/decisions", f"{base}/v1/decisions", "GET", None, auth),
            ("POST /v1/decisions", f"{base}/v1/decisions", "POST", {"module": "nexus-crm"}, auth),
            (
                "POST /v1/decisions + window",
                f"{base}/v1/decisions",
                "POST",
                {"module": "nexus-crm", "window": window_rows()},
                auth,
            ),
        ]
        try:
            policy = httpx.get(f"{base}/v1/decisions", headers=auth, timeout=30).json()["policy"]
            results = measure(targets)
        finally:
            for proc in (bare, svc):
                proc.terminate()
                proc.wait(timeout=10)
    ref = results["bare"]["p50_ms"]
    for r in results.values():
        r["p50_ratio_vs_bare"] = r["p50_ms"] / ref
    print(f"\nconcurrency {CONCURRENCY}, {REQUESTS} requests per target, policy served: {policy}")
    print(f"{'target':<30}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'p50/bare':>10}")
    for name, r in results.items():
        print(
            f"{name:<30}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['throughput_rps']:>9.0f}{r['p50_ratio_vs_bare']:>10.2f}"
        )
    cold_p50 = statistics.median(cold.values())
    print(
        "one module's decision in process (strategy + anomaly + policy, window read), median ms: "
        + ", ".join(f"{m} {v:.2f}" for m, v in cold.items())
        + f"; p50 {cold_p50:.2f} ms (target <= 5), {cold_p50 / ref:.2f}x the bare endpoint's p50"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "protocol": "bench_service v1: uvicorn 1 worker each, loopback, httpx async client",
                "concurrency": CONCURRENCY,
                "requests": REQUESTS,
                "policy": policy,
                "target_p50_ratio": 1.5,
                "results": results,
                "decision_in_process_ms": cold,
                "decision_in_process_p50_vs_bare_p50": cold_p50 / ref,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
