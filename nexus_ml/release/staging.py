"""The mirrored staging of one release: its catalog, stack file and nginx config (pure).

Staging runs every module at the image production runs now, the module under test at the
candidate image, and production's version of that module once more beside it as the baseline
(``<module>-baseline``, reached at ``/<short>-baseline/``): the judge compares the two under
the same load, in the same staging, at the same time. nginx's ``/<short>/`` goes to the
candidate, so every flow and cross-module call of staging exercises it.

Staging has its own stack name (hence its own service names), its own ports (production's
plus ``port_offset``: on a host network both stacks bind the same machine) and its own nginx.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from nexus_ml.catalog import Catalog, ModuleProfile
from nexus_ml.deploy.nginx import render_nginx
from nexus_ml.deploy.options import DeployOptions, full_service_name
from nexus_ml.deploy.stack import DUMPER, HEADER, stack_document
from nexus_ml.errors import InputError

BASELINE_SUFFIX = "-baseline"
MAX_PORT = 65535


@dataclass(frozen=True)
class StagingPlan:
    """Everything the pipeline needs to know about one staging run.

    Attributes
    ----------
    module
        The catalog module under test (full name, ``nexus-crm``).
    candidate_image, baseline_image
        The candidate's image reference and the one production runs for ``module``.
    catalog
        The staging catalog: production's modules on staging ports, plus the baseline.
    options
        The staging rendering options (stack name, nginx listen address).
    images
        Staging module name → image reference deployed.
    database
        Name of staging's copy of production's database, given to every staging module as
        ``NEXUS_DATABASE`` (the name only: credentials stay with the platform's secrets).
    """

    module: str
    candidate_image: str
    baseline_image: str
    catalog: Catalog
    options: DeployOptions
    images: Mapping[str, str]
    database: str | None = None

    @property
    def baseline(self) -> str:
        return self.module + BASELINE_SUFFIX

    def service(self, module: str) -> str:
        """The Swarm service name of a staging module (``staging_nexus-crm``)."""
        return full_service_name(self.options, module)

    def path(self, module: str) -> str:
        """nginx's location prefix of a staging module (``/crm/``)."""
        return f"/{self.catalog.get(module).short_name}/"

    @property
    def proxy_url(self) -> str:
        """Base URL of staging's nginx."""
        host, _, port = self.options.nginx_listen.rpartition(":")
        host = "127.0.0.1" if host in ("", "0.0.0.0") else host
        return f"http://{host}:{port}"

    def stack_text(self) -> str:
        """The staging stack file: the catalog's rendering with each module's exact image."""
        doc: dict[str, Any] = stack_document(self.catalog, self.options)
        for name, image in self.images.items():
            doc["services"][name]["image"] = image
            if self.database:
                doc["services"][name]["environment"]["NEXUS_DATABASE"] = self.database
        body = yaml.dump(doc, Dumper=DUMPER, sort_keys=False, default_flow_style=False, width=4096)
        return HEADER.replace("stack render", "release (staging)") + body

    def nginx_text(self) -> str:
        return render_nginx(self.catalog, self.options)


def _staged(module: ModuleProfile, port_offset: int, **changes: Any) -> ModuleProfile:
    port = module.port + port_offset
    if not 0 < port <= MAX_PORT:
        raise InputError(
            f"--port-offset {port_offset} moves {module.name}'s port {module.port} to {port}, "
            f"outside 1-{MAX_PORT}"
        )
    return module.model_copy(update={"port": port, **changes})


def plan_staging(
    catalog: Catalog,
    module: str,
    candidate_image: str,
    production_images: Mapping[str, str],
    options: DeployOptions,
    *,
    port_offset: int,
    database: str | None = None,
) -> StagingPlan:
    """Build the staging plan of a release of ``module``.

    Parameters
    ----------
    catalog
        The production catalog.
    module
        Module under test (full or short name).
    candidate_image
        The candidate's image reference (``registry/repo@sha256:…`` or ``repo:tag``).
    production_images
        Module → image production runs now (from the production Swarm).
    options
        Staging rendering options; ``stack_name`` must differ from production's.
    port_offset
        Added to every module's port (staging binds beside production).
    database
        Staging's database copy (its name), passed to the staging modules.

    Raises
    ------
    InputError
        A module without a production image, a port out of range, an empty image.
    """
    target = catalog.get(module)
    if not candidate_image.strip():
        raise InputError("--image must name the candidate image, got an empty string")
    missing = [m.name for m in catalog if not production_images.get(m.name)]
    if missing:
        raise InputError(
            f"production runs no image for {', '.join(missing)}: is the production stack "
            "deployed under the given name?"
        )
    staged = [_staged(m, port_offset) for m in catalog]
    baseline_name = target.name + BASELINE_SUFFIX
    if baseline_name in catalog.names:
        raise InputError(f"the catalog already has a module named {baseline_name!r}")
    # its own port: one past the highest staging port (the baseline is not in production)
    top = max(m.port for m in staged)
    baseline = _staged(target, 0, name=baseline_name, port=top + 1)
    if baseline.port > MAX_PORT:
        raise InputError(f"no port left for {baseline_name} above {top}")
    # on a host network a shared port would put staging tasks behind production's (SO_REUSEPORT)
    clash = {m.port for m in (*staged, baseline)} & {m.port for m in catalog}
    if clash:
        raise InputError(
            f"--port-offset {port_offset} puts staging on production's port(s) "
            f"{', '.join(map(str, sorted(clash)))}; choose an offset that moves every port clear"
        )
    staging_catalog = Catalog(modules=(*staged, baseline))
    images = {m.name: production_images[m.name] for m in catalog}
    images[target.name] = candidate_image
    images[baseline_name] = production_images[target.name]
    return StagingPlan(
        module=target.name,
        candidate_image=candidate_image,
        baseline_image=production_images[target.name],
        catalog=staging_catalog,
        # staging mirrors the ERP modules; nexus-ml's own services stay in production
        options=options.model_copy(update={"include_nexus_ml": False}),
        images=images,
        database=database,
    )
