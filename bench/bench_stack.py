"""Rendering the Swarm stack and the nginx config of a 100-module catalog (target: under 1 s).

In the same run, as references: the same document dumped with PyYAML's pure-Python emitter
(what the renderer falls back to without libyaml), and parsing the rendered stack back with
PyYAML (what ``docker stack deploy``'s own parse of the file is comparable to). Each figure is
the median of repeated runs. Prints a table and writes ``bench/results/stack.json``.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.deploy import render_nginx, render_stack, stack_document

ROOT = Path(__file__).resolve().parents[1]

OUT = ROOT / "bench" / "results" / "stack.json"
MODULES = 100
REPEATS = 7
TARGET_S = 1.0


def catalog_of(n: int) -> Catalog:
    """``n`` modules shaped like the bundled CRM, each depending on the one before it."""
    crm = load_catalog().get("crm").model_dump(by_alias=True)
    modules = []
    for i in range(n):
        m = dict(crm, name=f"nexus-m{i:03d}", schema=f"m{i:03d}", port=6000 + i)
        m["depends_on"] = [f"nexus-m{i - 1:03d}"] if i else []
        modules.append(m)
    return Catalog.model_validate({"modules": modules})


def median_s(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    catalog = catalog_of(MODULES)
    stack = render_stack(catalog)
    both = median_s(lambda: (render_stack(catalog), render_nginx(catalog)))
    nginx = median_s(lambda: render_nginx(catalog))
    pure = median_s(
        lambda: yaml.dump(
            stack_document(catalog), Dumper=yaml.SafeDumper, sort_keys=False, width=4096
        )
    )
    parse = median_s(lambda: yaml.safe_load(stack))
    rows = {
        "render stack + nginx (ours)": both,
        "render nginx only": nginx,
        "reference: pure-Python YAML emitter": pure,
        "reference: parse the stack back (PyYAML)": parse,
    }
    table = Table(title=f"Rendering {MODULES} modules (median of {REPEATS})")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    table.add_column("× ours", justify="right")
    for name, seconds in rows.items():
        table.add_row(name, f"{seconds:.4f}", f"{seconds / both:.2f}")
    console = Console()
    console.print(table)
    ok = both < TARGET_S
    console.print(f"target < {TARGET_S} s: {'met' if ok else 'MISSED'} ({both:.3f} s)")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "modules": MODULES,
                "stack_bytes": len(stack),
                "seconds": rows,
                "target_s": TARGET_S,
                "met": ok,
            },
            indent=2,
        )
        + "\n"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
