"""Customer-base models (projections/clv.py): published fits, recovery, numerics, validation."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from projections import clv
from projections.clv import BgNbdParams, GammaGammaParams

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FITTED_AT = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)

# Fader, Hardie & Lee (2005), "Counting your customers the easy way", CDNOW
# sample (2,357 customers, 39-week calibration, time in weeks): r, alpha, a, b
# and the maximised log-likelihood.
PUBLISHED_BGNBD = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
PUBLISHED_BGNBD_LL = -9582.4
# Fader, Hardie & Lee (2005), "RFM and CLV" / Fader & Hardie (2013), "The
# Gamma-Gamma model of monetary value": the 946 CDNOW repeat buyers, dollars.
PUBLISHED_GAMMA_GAMMA = GammaGammaParams(p=6.25, q=3.74, v=15.44)


def _columns(name: str) -> dict[str, np.ndarray]:
    with (FIXTURES / name).open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]}


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    return _columns("cdnow_customers_summary.csv")


@pytest.fixture(scope="module")
def cdnow_spend() -> dict[str, np.ndarray]:
    return _columns("cdnow_customers_summary_with_transactions.csv")


def reference_expected_purchases(
    params: BgNbdParams, t: float, x: int, t_x: float, T: float
) -> float:
    """FHL 2005 eq. 10 as printed, independently of clv.py: plain Python, the
    untransformed 2F1(r+x, b+x; a+b+x-1; z) summed term by term in log space
    (every term is positive when a+b+x-1 > 0, so nothing cancels), times
    ((alpha+T)/(alpha+T+t))^(r+x) inside the sum so nothing overflows."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    A, B, C = r + x, b + x, a + b + x - 1
    assert C > 0
    z = t / (alpha + T + t)
    base = A * math.log1p(-z)
    # Terms are positive; stop once the rest, bounded by a geometric tail at
    # the current (by then decreasing) ratio, is below 1e-17 of the sum.
    log_term, total, n = 0.0, 0.0, 0
    while True:
        term = math.exp(log_term + base)
        total += term
        ratio = (A + n) * (B + n) / ((C + n) * (n + 1)) * z
        log_term += math.log(ratio)
        n += 1
        if ratio < 1 and term * ratio / (1 - ratio) < 1e-17 * total:
            break
    g = total
    alive = 1.0
    if x > 0:
        alive = 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** A)
    return C / (a - 1) * (1 - g) * alive


def simulate(
    n: int,
    bg: BgNbdParams,
    gg: GammaGammaParams,
    seed: int,
    max_age: int = 730,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A population drawn from the two models themselves.

    lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b); N ~ Poisson(lambda T)
    potential repeat purchases in (0, T]; the customer drops out right after
    repeat purchase J ~ Geometric(p) (J >= 1, as the BG/NBD likelihood has
    it), so x = min(N, J) and t_x, the x-th of N uniform arrival times, is
    T * Beta(x, N - x + 1). Spends: nu ~ Gamma(q, rate v); the x repeat
    spends are Gamma(p, rate nu), so their sum is Gamma(p x, rate nu).
    """
    rng = np.random.default_rng(seed)
    lam = rng.gamma(bg.r, 1 / bg.alpha, n)
    drop = rng.beta(bg.a, bg.b, n)
    T = rng.integers(1, max_age + 1, n).astype(float)
    potential = rng.poisson(lam * T)
    x = np.minimum(potential, rng.geometric(drop))
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), potential - x + 1), 0.0)
    nu = rng.gamma(gg.q, 1 / gg.v, n)
    total = rng.gamma(np.maximum(gg.p * x, 1e-300), 1 / nu)
    monetary = np.where(x > 0, total / np.maximum(x, 1), 0.0)
    return x.astype(float), t_x, T, monetary


# -- 1. published results on CDNOW --------------------------------------------------


def test_bgnbd_fit_reproduces_fader_hardie_lee_on_cdnow(cdnow: dict[str, np.ndarray]) -> None:
    fit = clv.fit_bgnbd(cdnow["frequency"], cdnow["recency"], cdnow["T"])

    assert fit.customers == 2357
    assert fit.converged
    # The paper prints 3 decimals; the fit lands within 0.5% (in fact within
    # the rounding of every printed figure but r, which is 0.2% off).
    for name in ("r", "alpha", "a", "b"):
        got, published = getattr(fit.params, name), getattr(PUBLISHED_BGNBD, name)
        assert got == pytest.approx(published, rel=0.005), name
    assert fit.log_likelihood == pytest.approx(PUBLISHED_BGNBD_LL, abs=0.1)
    # The maximum: the published point is no better than the fitted one.
    at_published = clv.bgnbd_log_likelihood(
        PUBLISHED_BGNBD, cdnow["frequency"], cdnow["recency"], cdnow["T"]
    ).sum()
    assert at_published <= fit.log_likelihood
    assert at_published == pytest.approx(PUBLISHED_BGNBD_LL, abs=0.2)


def test_gamma_gamma_fit_reproduces_fader_hardie_lee_on_cdnow(
    cdnow_spend: dict[str, np.ndarray],
) -> None:
    fit = clv.fit_gamma_gamma(cdnow_spend["x"], cdnow_spend["zbar"])

    assert fit.customers == 946  # frequency > 0 and monetary > 0
    assert fit.converged
    for name in ("p", "q", "v"):
        got, published = getattr(fit.params, name), getattr(PUBLISHED_GAMMA_GAMMA, name)
        assert got == pytest.approx(published, rel=0.005), name


def test_cdnow_customers_by_hand_with_the_published_parameters() -> None:
    params = PUBLISHED_BGNBD
    # CDNOW ID 1: x = 2, t_x = 30.43, T = 38.86 weeks. P(alive) by hand:
    # 1 / (1 + a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))
    # = 1 / (1 + 0.793/3.426 * (43.274/34.844)^2.243) = 1 / (1 + 0.23147 * 1.62581) = 0.72658.
    assert clv.p_alive(params, 2, 30.43, 38.86) == pytest.approx(0.72658, abs=1e-5)
    # Expected repeat purchases in the next 39 weeks, eq. 10: 1.2260; the
    # digits below are mpmath at 40 digits on eq. 10 as printed (hyp2f1 of
    # the untransformed parameters), and the plain-Python series agrees.
    expected = clv.expected_purchases(params, 39, 2, 30.43, 38.86)
    assert expected == pytest.approx(1.226028174767144, rel=1e-10)
    assert expected == pytest.approx(
        reference_expected_purchases(params, 39, 2, 30.43, 38.86), rel=1e-10
    )
    # CDNOW ID 1516, the most frequent recent buyer: x = 26, t_x = 30.86, T = 31.
    assert clv.p_alive(params, 26, 30.86, 31.0) == pytest.approx(0.968916, abs=1e-6)
    assert clv.expected_purchases(params, 39, 26, 30.86, 31.0) == pytest.approx(
        20.74972614085729, rel=1e-10
    )
    assert clv.expected_purchases(params, 1, 26, 30.86, 31.0) == pytest.approx(
        0.7106209373346753, rel=1e-10
    )
    # A customer with no repeat purchase is alive by the model's definition.
    assert clv.p_alive(params, 0, 0, 38.86) == 1.0


def test_gamma_gamma_expected_spend_by_hand() -> None:
    gg = PUBLISHED_GAMMA_GAMMA
    # CDNOW ID 1: x = 2, mean repeat spend $22.35:
    # p (v + x m) / (p x + q - 1) = 6.25 * (15.44 + 44.70) / (12.50 + 2.74) = 24.6637...
    assert clv.expected_spend(gg, 2, 22.35) == pytest.approx(6.25 * 60.14 / 15.24, rel=1e-12)
    # No repeat purchase: the population mean p v / (q - 1) = $35.22.
    assert clv.expected_spend(gg, 0, 0) == pytest.approx(6.25 * 15.44 / 2.74, rel=1e-12)
    # Many purchases: the customer's own mean dominates.
    assert clv.expected_spend(gg, 500, 22.35) == pytest.approx(22.35, rel=0.01)
    # q <= 1: the population mean does not exist.
    assert math.isnan(clv.expected_spend(GammaGammaParams(p=2, q=0.5, v=1), 0, 0))


# -- 2. parameter recovery ------------------------------------------------------------

TRUE_BGNBD = BgNbdParams(r=0.6, alpha=40.0, a=0.8, b=2.5)  # days
TRUE_GAMMA_GAMMA = GammaGammaParams(p=6.0, q=4.0, v=150.0)


def test_fit_recovers_the_parameters_it_was_simulated_from() -> None:
    x, t_x, T, monetary = simulate(100_000, TRUE_BGNBD, TRUE_GAMMA_GAMMA, seed=20250630)

    models = clv.fit_models(x, t_x, T, monetary, fitted_at=FITTED_AT)

    # Tolerances are about 4 standard errors at 100,000 customers (spread of
    # the estimates over 20 seeds at 30,000, scaled): r 0.7%, alpha 1%,
    # a 2%, b 2.7%, p 1.2%, q 0.9%, v 2.1%.
    bg = models.bgnbd.params
    assert bg.r == pytest.approx(TRUE_BGNBD.r, rel=0.04)
    assert bg.alpha == pytest.approx(TRUE_BGNBD.alpha, rel=0.05)
    assert bg.a == pytest.approx(TRUE_BGNBD.a, rel=0.10)
    assert bg.b == pytest.approx(TRUE_BGNBD.b, rel=0.12)
    gg = models.gamma_gamma.params
    assert gg.p == pytest.approx(TRUE_GAMMA_GAMMA.p, rel=0.06)
    assert gg.q == pytest.approx(TRUE_GAMMA_GAMMA.q, rel=0.05)
    assert gg.v == pytest.approx(TRUE_GAMMA_GAMMA.v, rel=0.10)
    assert models.bgnbd.converged and models.gamma_gamma.converged
    assert models.bgnbd.customers == 100_000
    assert models.gamma_gamma.customers == int(np.count_nonzero(x))
    # The fitted point beats the true one on the data (it is the maximum).
    at_truth = clv.bgnbd_log_likelihood(TRUE_BGNBD, x, t_x, T).sum()
    assert models.bgnbd.log_likelihood >= at_truth


def test_predictions_match_what_the_simulated_customers_then_do() -> None:
    # Calibrate on the first 365 days of a 2-year history, predict the next
    # 365: the mean predicted and simulated repeat purchases agree.
    # Simulated purchase by purchase here, to have the holdout too.
    rng = np.random.default_rng(11)
    n = 40_000
    lam = rng.gamma(TRUE_BGNBD.r, 1 / TRUE_BGNBD.alpha, n)
    drop = rng.beta(TRUE_BGNBD.a, TRUE_BGNBD.b, n)
    purchases = [np.sort(rng.uniform(0, 730, k)) for k in rng.poisson(lam * 730)]
    life = rng.geometric(drop)  # repeat purchases before dropping out
    made = [times[:j] for times, j in zip(purchases, life, strict=True)]
    freq = np.array([np.count_nonzero(m < 365) for m in made], dtype=float)
    rec = np.array([m[m < 365].max() if (m < 365).any() else 0.0 for m in made])
    holdout = np.array([np.count_nonzero(m >= 365) for m in made], dtype=float)
    age = np.full(n, 365.0)

    predicted = clv.expected_purchases(TRUE_BGNBD, 365, freq, rec, age)

    assert predicted.mean() == pytest.approx(holdout.mean(), rel=0.05)
    for k in (0, 1, 2):  # and per calibration frequency
        group = freq == k
        assert predicted[group].mean() == pytest.approx(holdout[group].mean(), rel=0.1), k


def test_weights_count_identical_customers(cdnow: dict[str, np.ndarray]) -> None:
    rows = np.stack([cdnow["frequency"], cdnow["recency"], cdnow["T"]], axis=1)
    unique, counts = np.unique(rows, axis=0, return_counts=True)
    assert len(unique) < len(rows)

    grouped = clv.fit_bgnbd(unique[:, 0], unique[:, 1], unique[:, 2], weights=counts)
    plain = clv.fit_bgnbd(cdnow["frequency"], cdnow["recency"], cdnow["T"])

    assert grouped.customers == plain.customers == 2357
    assert grouped.log_likelihood == pytest.approx(plain.log_likelihood, rel=1e-9)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(grouped.params, name) == pytest.approx(getattr(plain.params, name), rel=1e-4)


def test_the_penalizer_shrinks_the_parameters(cdnow: dict[str, np.ndarray]) -> None:
    data = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    plain = clv.fit_bgnbd(*data)
    shrunk = clv.fit_bgnbd(*data, penalizer_coef=0.1)

    def size(p: BgNbdParams) -> float:  # as penalised: time rescaled to max T = 10
        scale = 10 / float(cdnow["T"].max())
        return p.r**2 + (p.alpha * scale) ** 2 + p.a**2 + p.b**2

    assert size(shrunk.params) < size(plain.params)
    assert shrunk.log_likelihood < plain.log_likelihood


# -- 3. numerics ---------------------------------------------------------------------


def test_hundreds_of_purchases_and_a_huge_age_stay_finite() -> None:
    params = PUBLISHED_BGNBD
    for t_x in (0.5, 100.0, 2500.0, 4990.0, 5000.0):
        alive = float(clv.p_alive(params, 500, t_x, 5000.0))
        assert 0.0 <= alive <= 1.0
        for t in (1.0, 39.0, 90.0, 365.0, 1e5):
            expected = float(clv.expected_purchases(params, t, 500, t_x, 5000.0))
            assert math.isfinite(expected)
            assert 0.0 <= expected <= t * (params.r + 500) / (params.alpha + 5000) * alive + 1e-12
    # Long dead: P(alive) underflows to 0 gracefully, not to nan.
    assert clv.p_alive(params, 500, 0.5, 5000.0) == 0.0
    # Alive and busy: matches eq. 10 evaluated independently.
    for t in (1.0, 39.0, 90.0):
        assert clv.expected_purchases(params, t, 500, 4990.0, 5000.0) == pytest.approx(
            reference_expected_purchases(params, t, 500, 4990.0, 5000.0), rel=1e-9
        )
    # The untransformed 2F1 of eq. 10 is astronomically large here.
    assert clv.expected_purchases(params, 90, 800, 4999.0, 5000.0) == pytest.approx(
        reference_expected_purchases(params, 90, 800, 4999.0, 5000.0), rel=1e-9
    )
    big = np.array([200.0, 500.0, 3000.0])
    out = clv.expected_purchases(params, 365.0, big, big * 1.5, big * 1.5)
    assert np.all(np.isfinite(out)) and np.all(out > 0)


def test_more_recent_means_more_likely_alive_and_more_purchases() -> None:
    params = BgNbdParams(r=0.6, alpha=40.0, a=0.8, b=2.5)
    recency = np.linspace(0.0, 730.0, 60)
    for x in (1, 5, 50, 500):
        alive = clv.p_alive(params, x, recency, 730.0)
        expected = clv.expected_purchases(params, 90, x, recency, 730.0)
        # Never down; strictly up once P(alive) no longer underflows to 0
        # (x = 500 with 500 purchases in the first months is long gone).
        for values in (alive, expected):
            assert np.all(np.diff(values) >= 0), x
            assert np.all(np.diff(values)[values[:-1] > 0] > 0), x
        # Bought just now: only the chance of dropping at that very purchase.
        assert alive[-1] == pytest.approx(1 / (1 + params.a / (params.b + x - 1))), x
    # And more purchases over the same span, when recent, means more expected.
    many = np.arange(1.0, 200.0)
    expected = clv.expected_purchases(params, 90, many, 729.0, 730.0)
    assert np.all(np.diff(expected) > 0)
    # Longer horizons: more purchases.
    horizon = np.array([0.0, 1.0, 30.0, 90.0, 365.0, 3650.0, 1e6])
    by_horizon = clv.expected_purchases(params, horizon, 3, 200.0, 400.0)
    assert by_horizon[0] == 0.0
    assert np.all(np.diff(by_horizon) > 0)


def test_the_quadrature_near_z_1_joins_the_closed_form() -> None:
    # Above z = t/(alpha+T+t) = 0.99, and where scipy's hyp2f1 fails (b in
    # the thousands), the expectation is integrated numerically. Across the
    # switch the value is continuous, and it matches eq. 10 computed
    # independently.
    for params, x, t_x, T in [
        (PUBLISHED_BGNBD, 3, 1.0, 2.0),
        (BgNbdParams(r=0.6, alpha=40.0, a=0.8, b=2.5), 0, 0.0, 0.0),
        (BgNbdParams(r=0.6, alpha=4.0, a=2.5, b=2000.0), 3, 5.0, 6.0),
        (BgNbdParams(r=2.0, alpha=0.5, a=0.3, b=0.9), 40, 1.5, 1.5),
    ]:
        edge = 99.0 * (params.alpha + T)  # z = 0.99 exactly
        below, above = clv.expected_purchases(
            params, np.array([edge * (1 - 1e-9), edge * (1 + 1e-9)]), x, t_x, T
        )
        assert above == pytest.approx(below, rel=1e-8), (params, x)
        assert below == pytest.approx(
            reference_expected_purchases(params, edge, x, t_x, T), rel=1e-8
        )
        far = 2000.0 * (params.alpha + T)  # z = 0.9995
        assert clv.expected_purchases(params, far, x, t_x, T) == pytest.approx(
            reference_expected_purchases(params, far, x, t_x, T), rel=1e-8
        )


def test_scores_over_a_population_are_finite(cdnow_spend: dict[str, np.ndarray]) -> None:
    models = clv.fit_models(
        cdnow_spend["x"],
        cdnow_spend["t_x"],
        cdnow_spend["T"],
        cdnow_spend["zbar"],
        fitted_at=FITTED_AT,
        time_unit="weeks",
    )
    scores = clv.score_customers(
        models,
        cdnow_spend["x"],
        cdnow_spend["t_x"],
        cdnow_spend["T"],
        cdnow_spend["zbar"],
        horizon=13.0,
        months=12,
        month_length=4.345,
    )
    for name in ("p_alive", "expected_purchases", "expected_spend", "clv"):
        values = getattr(scores, name)
        assert values.shape == (2357,), name
        assert np.all(np.isfinite(values)) and np.all(values >= 0), name
    assert np.all(scores.p_alive <= 1)


# -- CLV ---------------------------------------------------------------------------------


def test_clv_is_the_documented_discounted_sum() -> None:
    bg, gg = TRUE_BGNBD, TRUE_GAMMA_GAMMA
    x, t_x, T, m = 4.0, 300.0, 400.0, 2500.0
    spend = float(clv.expected_spend(gg, x, m))
    by_hand = sum(
        spend
        * (
            clv.expected_purchases(bg, 30.0 * k, x, t_x, T)
            - clv.expected_purchases(bg, 30.0 * (k - 1), x, t_x, T)
        )
        / 1.01**k
        for k in range(1, 13)
    )
    got = clv.customer_lifetime_value((bg, gg), x, t_x, T, m)
    assert got == pytest.approx(by_hand, rel=1e-12)
    # Undiscounted, it is spend x purchases over the horizon.
    flat = clv.customer_lifetime_value((bg, gg), x, t_x, T, m, months=24, monthly_discount_rate=0.0)
    assert flat == pytest.approx(spend * clv.expected_purchases(bg, 720.0, x, t_x, T), rel=1e-12)
    # A higher rate, a lower value; no months, no value.
    dearer = clv.customer_lifetime_value((bg, gg), x, t_x, T, m, monthly_discount_rate=0.05)
    assert dearer < got
    assert clv.customer_lifetime_value((bg, gg), x, t_x, T, m, months=0) == 0.0
    # An annual rate, as a monthly one.
    assert clv.monthly_rate(0.12) == pytest.approx(1.12 ** (1 / 12) - 1)
    assert (1 + clv.monthly_rate(0.1)) ** 12 == pytest.approx(1.1)


def test_score_customers_agrees_with_the_single_functions() -> None:
    x, t_x, T, m = simulate(500, TRUE_BGNBD, TRUE_GAMMA_GAMMA, seed=3)
    pair = (TRUE_BGNBD, TRUE_GAMMA_GAMMA)
    scores = clv.score_customers(pair, x, t_x, T, m, horizon=90.0)
    np.testing.assert_allclose(scores.p_alive, clv.p_alive(TRUE_BGNBD, x, t_x, T))
    np.testing.assert_allclose(
        scores.expected_purchases, clv.expected_purchases(TRUE_BGNBD, 90.0, x, t_x, T)
    )
    np.testing.assert_allclose(scores.expected_spend, clv.expected_spend(TRUE_GAMMA_GAMMA, x, m))
    np.testing.assert_allclose(scores.clv, clv.customer_lifetime_value(pair, x, t_x, T, m))


# -- FittedModels --------------------------------------------------------------------------


def test_fitted_models_round_trip_through_json(cdnow_spend: dict[str, np.ndarray]) -> None:
    at = datetime(2025, 6, 30, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    data = cdnow_spend["x"], cdnow_spend["t_x"], cdnow_spend["T"], cdnow_spend["zbar"]
    models = clv.fit_models(*data, fitted_at=at, time_unit="weeks", penalizer_coef=0.001)

    text = models.to_json()
    again = clv.FittedModels.from_json(text)

    assert again == models
    assert again.fitted_at == at and again.fitted_at.utcoffset() == timedelta(hours=2)
    doc = json.loads(text)
    assert doc["format"] == "touchpoint.clv/1"
    assert doc["bgnbd"]["customers"] == 2357
    # Deterministic: the same data and the same fitted_at give the same document.
    assert (
        clv.fit_models(*data, fitted_at=at, time_unit="weeks", penalizer_coef=0.001).to_json()
        == text
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        models.time_unit = "days"  # type: ignore[misc]


def test_fitted_models_refuse_a_naive_time_and_bad_documents() -> None:
    bg = clv.BgNbdFit(PUBLISHED_BGNBD, -1.0, 10, True)
    gg = clv.GammaGammaFit(PUBLISHED_GAMMA_GAMMA, -1.0, 5, True)
    with pytest.raises(ValueError, match=r"^fitted_at: must be timezone-aware"):
        clv.FittedModels(bg, gg, fitted_at=datetime(2025, 1, 1))
    good = clv.FittedModels(bg, gg, fitted_at=FITTED_AT).to_json()
    with pytest.raises(ValueError, match="format"):
        clv.FittedModels.from_json(good.replace("touchpoint.clv/1", "other/9"))
    with pytest.raises(ValueError, match="not a fitted-models document"):
        clv.FittedModels.from_json('{"format": "touchpoint.clv/1"}')
    with pytest.raises(ValueError, match="not a fitted-models document"):
        clv.FittedModels.from_json("[1, 2")
    with pytest.raises(ValueError, match=r"^alpha: must be a finite number > 0"):
        clv.FittedModels.from_json(good.replace('"alpha": 4.414', '"alpha": -4.414'))


# -- 4. input validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "field"),
    [
        ([1, -1], [1, 0], [2, 2], "frequency"),
        ([1.5], [1], [2], "frequency"),
        ([1, float("nan")], [1, 1], [2, 2], "frequency"),
        ([1], [-1], [2], "recency"),
        ([1, 2], [1, 3], [2, 2], "recency"),  # recency > T
        ([0], [1], [2], "recency"),  # no repeat purchase but a recency
        ([1], [1], [-2], "T"),
        ([1], [1], [float("inf")], "T"),
        ([1, 2, 3], [1, 1], [2, 2], "frequency"),  # shapes
        (["a"], [1], [2], "frequency"),
    ],
)
def test_bad_summaries_are_refused_naming_the_field(
    frequency: list[object], recency: list[float], T: list[float], field: str
) -> None:
    pattern = f"^{field}: "
    with pytest.raises(ValueError, match=pattern):
        clv.fit_bgnbd(frequency, recency, T)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=pattern):
        clv.p_alive(PUBLISHED_BGNBD, frequency, recency, T)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=pattern):
        clv.expected_purchases(PUBLISHED_BGNBD, 90, frequency, recency, T)  # type: ignore[arg-type]


def test_validation_messages_say_what_and_where() -> None:
    with pytest.raises(
        ValueError, match=r"^recency: must be <= T \(got recency 3\.0 > T 2\.0 at index 1\)"
    ):
        clv.p_alive(PUBLISHED_BGNBD, [1, 2], [1, 3], [2, 2])
    with pytest.raises(ValueError, match=r"^recency: must be 0 when frequency is 0 .* at index 0"):
        clv.p_alive(PUBLISHED_BGNBD, [0], [1], [2])


def test_bad_monetary_values_and_options_are_refused_naming_them() -> None:
    pair = (TRUE_BGNBD, TRUE_GAMMA_GAMMA)
    with pytest.raises(ValueError, match=r"^monetary: must be >= 0"):
        clv.fit_gamma_gamma([1, 2], [10.0, -1.0])
    with pytest.raises(ValueError, match=r"^monetary: must be 0 when frequency is 0"):
        clv.fit_models([0, 2], [0, 5], [9, 9], [4.0, 10.0], fitted_at=FITTED_AT)
    with pytest.raises(ValueError, match=r"^monetary: Gamma-Gamma needs at least 2 customers"):
        clv.fit_gamma_gamma([0, 0, 1], [0, 0, 10.0])
    with pytest.raises(ValueError, match=r"^monetary: must be finite"):
        clv.expected_spend(TRUE_GAMMA_GAMMA, [1], [float("nan")])
    with pytest.raises(ValueError, match=r"^t: must be >= 0"):
        clv.expected_purchases(TRUE_BGNBD, -1, 1, 1, 2)
    with pytest.raises(ValueError, match=r"^penalizer_coef: "):
        clv.fit_bgnbd([1, 2], [1, 2], [3, 3], penalizer_coef=-0.1)
    with pytest.raises(ValueError, match=r"^weights: must be >= 0"):
        clv.fit_bgnbd([1, 2], [1, 2], [3, 3], weights=[1, -1])
    with pytest.raises(ValueError, match=r"^weights: shape"):
        clv.fit_bgnbd([1, 2], [1, 2], [3, 3], weights=[1, 1, 1])
    with pytest.raises(ValueError, match=r"^months: "):
        clv.customer_lifetime_value(pair, 1, 1, 2, 5.0, months=-1)
    with pytest.raises(ValueError, match=r"^monthly_discount_rate: "):
        clv.customer_lifetime_value(pair, 1, 1, 2, 5.0, monthly_discount_rate=-1.0)
    with pytest.raises(ValueError, match=r"^month_length: "):
        clv.customer_lifetime_value(pair, 1, 1, 2, 5.0, month_length=0.0)
    with pytest.raises(ValueError, match=r"^horizon: "):
        clv.score_customers(pair, 1, 1, 2, 5.0, horizon=float("nan"))
    with pytest.raises(ValueError, match=r"^annual_rate: "):
        clv.monthly_rate(-2.0)
    with pytest.raises(ValueError, match=r"^frequency: no customers to fit"):
        clv.fit_bgnbd([], [], [])
    with pytest.raises(ValueError, match=r"^b: must be a finite number > 0"):
        BgNbdParams(r=1.0, alpha=1.0, a=1.0, b=0.0)
    with pytest.raises(ValueError, match=r"^q: must be a finite number > 0"):
        GammaGammaParams(p=1.0, q=float("nan"), v=1.0)
