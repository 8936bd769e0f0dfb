"""M/M/c queueing: how response time grows with utilisation.

Each replica is one server. Utilisation ``rho = demand / (replicas × capacity)`` comes from the
catalog's capacity; the time scale from the module's mean service time. Above
``RHO_MAX`` the steady-state formula diverges, so the response time continues with a fluid
approximation of one observation window's backlog and is capped at a client timeout.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Beyond this utilisation the M/M/c steady state no longer describes a one-minute window.
RHO_MAX = 0.98


def erlang_c(servers: npt.ArrayLike, offered_load: npt.ArrayLike) -> FloatArray:
    """Probability that an arrival waits in an M/M/c queue (Erlang C).

    Parameters
    ----------
    servers
        Number of servers ``c`` (≥ 1), integer array-like.
    offered_load
        ``a = λ/μ`` in Erlangs; must satisfy ``a < c`` for a finite answer.

    Returns
    -------
    numpy.ndarray
        ``P(wait > 0)`` in [0, 1]; 1 where ``a ≥ c``.
    """
    c, a = np.broadcast_arrays(
        np.asarray(servers, dtype=np.int64), np.asarray(offered_load, dtype=np.float64)
    )
    # Erlang B by its stable recursion B(k) = a·B(k−1) / (k + a·B(k−1)), then C from B.
    b = np.ones(c.shape)
    for k in range(1, int(c.max(initial=1)) + 1):
        step = a * b / (k + a * b)
        b = np.where(k <= c, step, b)
    rho = np.divide(a, c, out=np.ones(c.shape), where=c > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = b / (1.0 - rho * (1.0 - b))
    return np.asarray(np.where(rho >= 1.0, 1.0, np.clip(result, 0.0, 1.0)), dtype=np.float64)


def mmc_response_time(
    utilisation: npt.ArrayLike,
    servers: npt.ArrayLike,
    service_s: npt.ArrayLike,
    *,
    window_s: float = 60.0,
    timeout_s: float = 30.0,
) -> FloatArray:
    """Mean response time (seconds) of an M/M/c queue, defined for any utilisation.

    Parameters
    ----------
    utilisation
        ``rho = λ / (c μ)`` (≥ 0; may exceed 1 when overloaded).
    servers
        ``c`` (≥ 1).
    service_s
        Mean service time ``1/μ`` in seconds.
    window_s
        Observation window: when overloaded, the backlog built over this window adds on
        average ``(rho − RHO_MAX) × window_s / 2`` seconds of waiting.
    timeout_s
        Clients give up after this long: the upper bound of the result.

    Returns
    -------
    numpy.ndarray
        Response time in seconds, non-decreasing in ``utilisation``.
    """
    rho = np.asarray(utilisation, dtype=np.float64)
    c = np.asarray(servers, dtype=np.int64)
    s = np.asarray(service_s, dtype=np.float64)
    rho_q = np.minimum(rho, RHO_MAX)
    wait_prob = erlang_c(c, rho_q * c)
    sojourn = s * (1.0 + wait_prob / (c * (1.0 - rho_q)))
    overload = np.maximum(rho - RHO_MAX, 0.0) * window_s / 2.0
    return np.asarray(np.minimum(sojourn + overload, timeout_s), dtype=np.float64)


def erlang2_cdf(x: npt.ArrayLike, mean: npt.ArrayLike) -> FloatArray:
    """CDF of an Erlang-2 distribution with the given mean: the shape of response times.

    Response times are neither constant nor memoryless; Erlang-2 (p95 ≈ 2.37 × mean) is a
    common compromise and lets histograms be filled in closed form.
    """
    z = 2.0 * np.asarray(x, dtype=np.float64) / np.maximum(np.asarray(mean, np.float64), 1e-12)
    return np.asarray(1.0 - np.exp(-z) * (1.0 + z), dtype=np.float64)


#: p95 of an Erlang-2 distribution relative to its mean.
ERLANG2_P95_RATIO = 2.3719
