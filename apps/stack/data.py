"""Where the real data sets live (traces, NAB, ...): one resolver for the tests and the benchmarks.

The data stay outside the repository. :func:`data_dir` is ``$NEXUS_DATA_DIR`` when set, else
``../shared/data`` beside the repository; :func:`data_file` names the file or folder a caller
wants and says clearly where it looked when it is not there.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENV = "NEXUS_DATA_DIR"


def data_dir() -> Path:
    """``$NEXUS_DATA_DIR``, else ``../shared/data`` beside the repository."""
    configured = os.environ.get(ENV)
    return Path(configured) if configured else REPO.parent / "shared" / "data"


def data_file(relative: str) -> Path:
    """The data file or folder ``relative`` (``"traces/crane/input0.csv"``) under :func:`data_dir`.

    Raises
    ------
    FileNotFoundError
        Naming the file, the folder searched and how to point elsewhere.
    """
    root = data_dir()
    path = root / relative
    if not path.exists():
        where = f"${ENV}" if os.environ.get(ENV) else f"the default (set ${ENV} to change it)"
        raise FileNotFoundError(
            2, f"shared data {relative!r} not found under {root} ({where})", str(path)
        )
    return path
