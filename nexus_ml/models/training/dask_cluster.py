"""Fan-out on a Dask cluster: the optional ``dask`` extra and the scheduler connection.

:func:`nexus_ml.models.training.fanout.fit_modules` runs its tasks through joblib; inside
:func:`on_dask` joblib's ``dask`` backend sends them to a running ``dask scheduler`` and its
workers. Dask is an optional dependency (``pip install 'nexus-ml[dask]'``): without it, and
with a scheduler that cannot be reached, the caller gets a :class:`ConfigError` naming the
address and the fix instead of an ``ImportError`` or a connection traceback.
"""

from __future__ import annotations

import importlib
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from nexus_ml.errors import ConfigError

log = logging.getLogger(__name__)

#: What to install when the extra is missing (the message shows it verbatim).
INSTALL_HINT = "pip install 'nexus-ml[dask]'"


def require_dask() -> Any:
    """The ``distributed`` module, or a :class:`ConfigError` saying how to install it.

    Raises
    ------
    ConfigError
        When ``dask.distributed`` cannot be imported (the ``dask`` extra is not installed).
    """
    try:
        return importlib.import_module("dask.distributed")
    except ImportError as exc:
        raise ConfigError(
            f"--dask needs Dask's distributed scheduler, which is not installed ({exc}); "
            f"install the extra: {INSTALL_HINT}",
            field="dask",
        ) from None


@contextmanager
def on_dask(address: str, *, connect_timeout_s: float = 10.0) -> Iterator[Any]:
    """Run joblib work inside this block on the Dask scheduler at ``address``.

    Parameters
    ----------
    address
        The scheduler, e.g. ``tcp://10.0.0.5:8786`` or ``10.0.0.5:8786``.
    connect_timeout_s
        How long to try to reach the scheduler before giving up.

    Yields
    ------
    distributed.Client
        The connected client (closed when the block ends).

    Raises
    ------
    ConfigError
        When the extra is missing, or the scheduler cannot be reached or the address parsed.
    """
    distributed = require_dask()
    import joblib

    try:
        host, port = distributed.comm.get_address_host_port(address)
    except ValueError as exc:
        raise ConfigError(
            f"--dask: {address!r} is not a scheduler address like tcp://HOST:8786 ({exc})",
            field="dask",
            value=address,
        ) from None
    try:
        # Probe the port first: a Client that fails to connect leaves a half-built object
        # whose finaliser prints a traceback at exit, which a user error must not show.
        socket.create_connection((host, port), timeout=connect_timeout_s).close()
        client = distributed.Client(address, timeout=connect_timeout_s)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(
            f"--dask: cannot reach the Dask scheduler at {address!r} within "
            f"{connect_timeout_s:g}s ({type(exc).__name__}: {exc})",
            field="dask",
            value=address,
        ) from None
    try:
        workers = len(client.nthreads())
        log.info("dask scheduler=%s workers=%d", address, workers)
        with joblib.parallel_config(backend="dask"):
            yield client
    finally:
        client.close()
