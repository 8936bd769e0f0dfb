"""``nexus-ml stack render``: the Swarm stack and nginx config of the ERP, from the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nexus_ml.cli.common import console, exits_cleanly, settings

stack_app = typer.Typer(help="The ERP's Swarm stack and nginx config, rendered from the catalog.")


def register(app: typer.Typer) -> None:
    app.add_typer(stack_app, name="stack")


@stack_app.command("render")
@exits_cleanly
def render(
    out: Annotated[
        Path | None, typer.Option(help="Write DIR/stack.yml and DIR/nginx.conf; else print")
    ] = None,
    build_context: Annotated[
        bool, typer.Option("--build-context", help="Also write the images' build contexts")
    ] = False,
    catalog: Annotated[Path | None, typer.Option(help="Catalog YAML (default: bundled)")] = None,
    registry: Annotated[
        str | None, typer.Option(help="Registry/namespace; default NEXUS_REGISTRY (Docker Hub)")
    ] = None,
    network: Annotated[
        str, typer.Option(help="overlay (production) or host (loopback-only test Swarm)")
    ] = "overlay",
    stack_name: Annotated[str, typer.Option(help="Name given to docker stack deploy")] = "nexus",
) -> None:
    """Render the stack file and the nginx config; the same inputs give the same bytes."""
    from pydantic import ValidationError

    from nexus_ml.catalog import load_catalog
    from nexus_ml.deploy import DeployOptions, render_nginx, render_stack
    from nexus_ml.deploy.dockerfiles import write_build_contexts
    from nexus_ml.errors import InputError

    if network not in ("overlay", "host"):
        raise InputError(f"--network: expected overlay or host, got {network!r}")
    if build_context and out is None:
        raise InputError("--build-context needs --out DIR")
    cfg = settings()
    cat = load_catalog(catalog or cfg.catalog_path)
    try:
        options = DeployOptions(
            registry=registry or cfg.registry,
            network=network,
            stack_name=stack_name,
            bind_address="127.0.0.1" if network == "host" else "0.0.0.0",
            # on the host network two decision services would fight over one port
            decision_replicas=1 if network == "host" else 2,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise InputError(
            f"--{field.replace('_', '-')}: {err['msg']} (got {err['input']!r})"
        ) from None
    stack, nginx = render_stack(cat, options), render_nginx(cat, options)
    if out is None:
        typer.echo(stack, nl=False)
        typer.echo("# ---- nginx.conf ----")
        typer.echo(nginx, nl=False)
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / "stack.yml").write_text(stack, encoding="utf-8")
    (out / "nginx.conf").write_text(nginx, encoding="utf-8")
    written = [out / "stack.yml", out / "nginx.conf"]
    if build_context:
        written += list(write_build_contexts(out / "images").values())
    for path in written:
        console.print(f"wrote {path}")
