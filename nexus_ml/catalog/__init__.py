"""The module catalog: profiles, limits and dependencies of every ERP module."""

from nexus_ml.catalog.loader import BUNDLED_CATALOG, load_catalog
from nexus_ml.catalog.schema import Catalog, HealthCheck, ModuleProfile, ScaleTrigger

__all__ = [
    "BUNDLED_CATALOG",
    "Catalog",
    "HealthCheck",
    "ModuleProfile",
    "ScaleTrigger",
    "load_catalog",
]
