"""The Dockerfiles of the images nexus-ml deploys, and the build contexts that go with them.

Two images: ``nexus-ml`` (the decision service, the executor and the retraining job share it)
and ``nexus-module`` (a small HTTP stand-in for an ERP module). Both take their base as a build
argument: ``python:3.11-slim`` in production; offline, a base made locally from the host's
Python (:mod:`nexus_ml.deploy.base_image`), since nothing can be pulled there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

MODULE_DOCKERFILE = """\
# The Nexus ERP module stand-in: /health, a few ERP endpoints and its own /metrics.
# BASE needs python3 and wget (the healthcheck): the local base has busybox's wget.
# It listens on MODULE_PORT (the catalog's port, set by the stack). Few instructions: on the
# vfs storage driver every one copies the whole root filesystem.
ARG BASE=nexus-python:3.11
FROM ${BASE}
COPY nexus_module.py /app/nexus_module.py
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 MODULE_PORT=8080 MODULE_BIND=0.0.0.0
USER 65534
ENTRYPOINT ["python3", "/app/nexus_module.py"]
"""

NEXUS_ML_DOCKERFILE = """\
# nexus-ml: `nexus-ml serve`, `nexus-ml execute` and `nexus-ml retrain` share this image.
# The context holds two root-filesystem trees, filled from a tested environment by
# nexus_ml/deploy/image_context.py (nothing is downloaded or compiled during the build):
# deps/ the installed runtime dependencies and their list (only the list when BASE carries
# them, as the base made offline by nexus_ml/deploy/image_build.py does), app/ nexus-ml and
# its `nexus-ml` script.
# No RUN. The settings come first, while the root filesystem is small (the classic builder
# makes a container per instruction), and nexus-ml last: a code change rebuilds one layer.
ARG BASE=python:3.11-slim
FROM ${BASE}
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 NEXUS_STATE_DIR=/var/lib/nexus-ml
WORKDIR /var/lib/nexus-ml
EXPOSE 8000
CMD ["nexus-ml", "--help"]
COPY deps/ /
COPY app/ /
"""

#: Image name (without registry) → Dockerfile text.
DOCKERFILES = {"nexus-module": MODULE_DOCKERFILE, "nexus-ml": NEXUS_ML_DOCKERFILE}


def write_module_context(dest: Path) -> Path:
    """The ``nexus-module`` build context in ``dest`` (Dockerfile and the stand-in server)."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "Dockerfile").write_text(MODULE_DOCKERFILE, encoding="utf-8")
    shutil.copyfile(Path(__file__).with_name("standin.py"), dest / "nexus_module.py")
    return dest


def write_nexus_ml_context(dest: Path) -> Path:
    """The ``nexus-ml`` build context in ``dest``: its Dockerfile and empty ``deps/``, ``app/``.

    Fill them with :func:`nexus_ml.deploy.image_context.fill_nexus_ml_context` before
    building (:func:`nexus_ml.deploy.image_build.build_nexus_ml_image` does both).
    """
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "Dockerfile").write_text(NEXUS_ML_DOCKERFILE, encoding="utf-8")
    for tree in ("deps", "app"):
        (dest / tree).mkdir(exist_ok=True)
    return dest


def write_build_contexts(dest: Path) -> dict[str, Path]:
    """Both build contexts under ``dest/<image>``."""
    return {
        "nexus-module": write_module_context(dest / "nexus-module"),
        "nexus-ml": write_nexus_ml_context(dest / "nexus-ml"),
    }
