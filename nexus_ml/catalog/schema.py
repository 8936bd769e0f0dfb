"""Pydantic schema of the module catalog, with the cross-module checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import Field, model_validator

from nexus_ml.domain.base import Frozen


class ScaleTrigger(Frozen):
    """The seed's reactive rule: scale when ``metric > threshold`` for ``duration_min``."""

    metric: Literal["cpu_usage", "requests_per_min", "memory_usage", "response_time"]
    threshold: float = Field(gt=0)
    duration_min: int = Field(ge=1, le=1440)


class HealthCheck(Frozen):
    """How Swarm probes a module's task: ``GET path`` on the task's own port."""

    path: str = Field("/health", pattern=r"^/[A-Za-z0-9_./-]*$")
    interval_s: int = Field(10, ge=1, le=600)
    timeout_s: int = Field(3, ge=1, le=600)
    retries: int = Field(3, ge=1, le=20)
    start_period_s: int = Field(20, ge=0, le=3600)


class ModuleProfile(Frozen):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,62}$")
    display_name: str
    schema_name: str = Field(alias="schema", pattern=r"^[a-z_][a-z0-9_]*$")
    client_share: float = Field(gt=0, le=1)
    cpu_limit: float = Field(gt=0, le=64)
    memory_limit_gb: float = Field(gt=0, le=512)
    min_replicas: int = Field(ge=0, le=100)
    max_replicas: int = Field(ge=1, le=100)
    port: int = Field(ge=1, le=65535)
    image: str = Field(min_length=1)
    depends_on: tuple[str, ...] = ()
    scale_trigger: ScaleTrigger
    target_utilisation: float = Field(0.7, gt=0, le=1)
    startup_lead_time_s: int = Field(60, ge=0, le=3600)
    capacity_rpm_per_replica: float = Field(
        gt=0, description="Requests/min one replica serves at 100%"
    )
    normal_rpm: float | None = Field(
        None, gt=0, description="The seed's normal load in requests/min; must fit max_replicas"
    )
    health: HealthCheck = HealthCheck()
    update_order: Literal["start-first", "stop-first"] = Field(
        "start-first",
        description="stop-first for a module that cannot run two versions side by side",
    )

    model_config = Frozen.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _min_not_above_max(self) -> ModuleProfile:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) is above max_replicas ({self.max_replicas})"
            )
        return self

    def clamp(self, replicas: int) -> int:
        """``replicas`` within this module's [min, max]."""
        return max(self.min_replicas, min(self.max_replicas, replicas))

    @property
    def short_name(self) -> str:
        """The name without the ``nexus-`` prefix (``crm`` for ``nexus-crm``)."""
        return self.name.removeprefix("nexus-")


def _check_normal_load_fits(index: int, module: ModuleProfile) -> None:
    """The seed's normal load must be served by ``max_replicas`` at the target utilisation."""
    if module.normal_rpm is None:
        return
    per_replica = module.capacity_rpm_per_replica * module.target_utilisation
    most = module.max_replicas * per_replica
    if module.normal_rpm > most * (1 + 1e-9):  # exactly full is allowed, whatever the rounding
        raise ValueError(
            f"modules.{index}.normal_rpm: {module.name}'s normal load of {module.normal_rpm:g} "
            f"requests/min does not fit max_replicas {module.max_replicas} × "
            f"capacity_rpm_per_replica {module.capacity_rpm_per_replica:g} × "
            f"target_utilisation {module.target_utilisation:g} = {most:g} requests/min; "
            f"raise capacity_rpm_per_replica to at least "
            f"{module.normal_rpm / (module.max_replicas * module.target_utilisation):.4g} "
            f"or max_replicas"
        )


class Catalog(Frozen):
    modules: tuple[ModuleProfile, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _names_unique_and_dependencies_known(self) -> Catalog:
        names = [m.name for m in self.modules]
        seen: set[str] = set()
        short: dict[str, str] = {}
        for i, name in enumerate(names):
            if name in seen:
                raise ValueError(f"modules.{i}.name: duplicate module name {name!r}")
            seen.add(name)
            # the short name is the nginx path and a lookup key: it must be unique too
            key = name.removeprefix("nexus-")
            if key in short:
                raise ValueError(
                    f"modules.{i}.name: {name!r} and {short[key]!r} share the short name {key!r}"
                )
            short[key] = name
        for i, module in enumerate(self.modules):
            for dep in module.depends_on:
                if dep not in seen:
                    raise ValueError(f"modules.{i}.depends_on: unknown module {dep!r}")
                if dep == module.name:
                    raise ValueError(f"modules.{i}.depends_on: {dep!r} depends on itself")
        for i, module in enumerate(self.modules):
            _check_normal_load_fits(i, module)
        return self

    def __iter__(self) -> Iterator[ModuleProfile]:  # type: ignore[override]
        return iter(self.modules)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.modules)

    def get(self, name: str) -> ModuleProfile:
        """The profile of ``name`` (full name or short name such as ``crm``)."""
        from nexus_ml.errors import NotFoundError

        for module in self.modules:
            if name in (module.name, module.short_name):
                return module
        raise NotFoundError(f"unknown module {name!r}; known: {', '.join(self.names)}", name=name)

    def dependents_of(self, name: str) -> tuple[str, ...]:
        """Modules that use ``name`` directly."""
        return tuple(m.name for m in self.modules if name in m.depends_on)

    def dependency_order(self) -> tuple[str, ...]:
        """Modules with every dependency before its users (deterministic: ties by name)."""
        from graphlib import TopologicalSorter

        sorter = TopologicalSorter({m.name: set(m.depends_on) for m in self.modules})
        sorter.prepare()
        order: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            order.extend(ready)
            sorter.done(*ready)
        return tuple(order)
