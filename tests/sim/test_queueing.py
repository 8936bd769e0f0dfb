"""The M/M/c model: known values and response time rising with utilisation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from nexus_ml.sim.queueing import (
    ERLANG2_P95_RATIO,
    RHO_MAX,
    erlang2_cdf,
    erlang_c,
    mmc_response_time,
)


def test_erlang_c_matches_closed_forms() -> None:
    rho = np.linspace(0.05, 0.95, 19)
    # M/M/1: the probability of waiting is the utilisation.
    np.testing.assert_allclose(erlang_c(1, rho), rho)
    # M/M/2: C = 2 rho^2 / (1 + rho).
    np.testing.assert_allclose(erlang_c(2, 2 * rho), 2 * rho**2 / (1 + rho))
    # Vectorised over servers: every c ≥ 1 in one call.
    c = np.arange(1, 40)
    values = erlang_c(c, 0.7 * c)
    assert np.all(np.diff(values) < 0)  # pooling: more servers, less waiting at equal rho
    assert erlang_c(3, 3.0)[()] == 1.0


def test_mm1_response_time_is_service_over_one_minus_rho() -> None:
    rho = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(mmc_response_time(rho, 1, 0.2), 0.2 / (1 - rho))


@pytest.mark.parametrize("servers", [1, 2, 4, 8, 30])
def test_response_time_increases_with_utilisation(servers: int) -> None:
    rho = np.linspace(0.0, 3.0, 3001)
    w = mmc_response_time(rho, servers, 0.1, timeout_s=30.0)
    assert np.all(np.diff(w) >= 0)
    # Strictly increasing where waiting is numerically visible (for many servers the
    # probability of waiting at low load underflows to 0: flat, but never decreasing).
    loaded = (rho > 0.6) & (rho < 1.5)  # below the timeout cap
    assert np.all(np.diff(w[loaded]) > 0)
    assert w[0] == pytest.approx(0.1)
    assert w.max() == 30.0  # capped at the timeout when overloaded
    assert np.isfinite(w).all()
    # Continuous through RHO_MAX: no jump where the fluid approximation takes over.
    at = np.array([RHO_MAX - 1e-9, RHO_MAX + 1e-9])
    np.testing.assert_allclose(*mmc_response_time(at, servers, 0.1), rtol=1e-6)


def test_erlang2_p95_ratio() -> None:
    p95 = brentq(lambda x: erlang2_cdf(x, 1.0) - 0.95, 0.1, 10.0)
    assert p95 == pytest.approx(ERLANG2_P95_RATIO, rel=1e-4)
    assert erlang2_cdf(0.0, 1.0) == 0.0
