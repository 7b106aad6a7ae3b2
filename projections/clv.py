"""Customer-base models: BG/NBD repeat purchasing, Gamma-Gamma spend, lifetime value.

A pure library (no I/O, no clock): fit the models by maximum likelihood on
the per-customer BTYD summary and score customers, vectorised over numpy
arrays so a refit over a million customers takes seconds.

Inputs, per customer (the lifetimes convention, as in
``projections.customer_figures.PurchaseFigures``):

- ``frequency`` (x): repeat purchases, a whole number >= 0 (purchase days
  after the first, at daily granularity);
- ``recency`` (t_x): time from the first to the last purchase, 0 when
  ``frequency`` is 0;
- ``T``: time from the first purchase to the end of observation, >= recency;
- ``monetary`` (z-bar): mean spend per repeat purchase (the first excluded),
  0 when ``frequency`` is 0, in any unit (minor units are fine).

Time is in any one unit (touchpoint uses days: ``recency_days``,
``t_days``); ``alpha`` and every horizon are in that unit, so parameters
fitted on days and a horizon in weeks do not mix. ``FittedModels.time_unit``
records the unit.

Models:

- BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way",
  Marketing Science 24(2)): while alive a customer buys as a Poisson process
  of rate lambda ~ Gamma(r, alpha) and after each repeat purchase drops out
  with probability p ~ Beta(a, b).
- Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV", JMR 42(4); Fader &
  Hardie 2013, "The Gamma-Gamma model of monetary value"): the spends of a
  customer are Gamma(p, nu) with nu ~ Gamma(q, v), independent of the
  purchase process.
- CLV (lifetimes' ``customer_lifetime_value``): over ``months`` periods of
  ``month_length`` time units,
  ``CLV = sum_{k=1..months} E[spend] * (E[Y(k L)] - E[Y((k-1) L)]) / (1 + d)^k``
  with E[Y(t)] the conditional expected repeat purchases in the next t,
  E[spend] the Gamma-Gamma conditional mean spend, L = ``month_length`` and d
  the monthly discount rate: the purchases expected in month k are
  discounted by k whole months (end of month). It is revenue in the unit of
  ``monetary``: multiply by a margin for profit.

May import: numpy, scipy, stdlib.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import (
    betainc,
    betaln,
    digamma,
    expit,
    gammaln,
    hyp2f1,
    roots_jacobi,
    roots_legendre,
)

Array: TypeAlias = npt.NDArray[np.float64]
ArrayLike: TypeAlias = npt.ArrayLike

JSON_FORMAT = "touchpoint.clv/1"
# Time is rescaled so that the largest T is 10 while fitting (as lifetimes
# does): starting values, bounds and the penalizer then do not depend on the
# time unit. Monetary values are rescaled to mean 1 for the same reason.
_TIME_SCALE_TARGET = 10.0
_LOG_BOUND = 15.0  # fitted parameters stay within e^-15 .. e^15 (rescaled units)
_SERIES_MAX_TERMS = 400
_SERIES_SMALL_Z = 0.05  # below, 2F1 - 1 by its series: under 15 terms, full precision
_HYP2F1_MAX_Z = 0.99  # above, quadrature (scipy's hyp2f1 can be off, silently, near z = 1)
_QUAD_CHUNK = 2048
# Above _SAMPLE_ABOVE customers the multi-start runs on every k-th customer
# (about _SAMPLE_SIZE of them) and only the best start is refined on everyone.
_SAMPLE_ABOVE = 200_000
_SAMPLE_SIZE = 100_000
_GAUSS_JACOBI_NODES = 40
_GAUSS_LEGENDRE = roots_legendre(16)


# -- parameters and fits -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class BgNbdParams:
    """BG/NBD: purchase rate ~ Gamma(shape r, rate alpha), dropout ~ Beta(a, b).

    ``alpha`` is in the data's time unit (mean rate r / alpha per time unit).
    """

    r: float
    alpha: float
    a: float
    b: float

    def __post_init__(self) -> None:
        _positive_params(self.r, self.alpha, self.a, self.b, names=("r", "alpha", "a", "b"))


@dataclass(frozen=True, slots=True)
class GammaGammaParams:
    """Gamma-Gamma: spend ~ Gamma(shape p, rate nu), nu ~ Gamma(shape q, rate v).

    ``v`` is in the monetary unit; the population mean spend per purchase is
    p v / (q - 1) (finite only when q > 1).
    """

    p: float
    q: float
    v: float

    def __post_init__(self) -> None:
        _positive_params(self.p, self.q, self.v, names=("p", "q", "v"))


@dataclass(frozen=True, slots=True)
class BgNbdFit:
    params: BgNbdParams
    log_likelihood: float  # sum over customers, unpenalised, in the data's units
    customers: int
    converged: bool


@dataclass(frozen=True, slots=True)
class GammaGammaFit:
    params: GammaGammaParams
    log_likelihood: float  # sum over the customers used, unpenalised
    customers: int  # customers with frequency > 0 and monetary > 0
    converged: bool


@dataclass(frozen=True, slots=True)
class FittedModels:
    """Both models as fitted at ``fitted_at`` (given by the caller, timezone-aware)."""

    bgnbd: BgNbdFit
    gamma_gamma: GammaGammaFit
    fitted_at: datetime
    time_unit: str = "days"
    penalizer_coef: float = 0.0

    def __post_init__(self) -> None:
        if self.fitted_at.tzinfo is None or self.fitted_at.utcoffset() is None:
            raise ValueError(f"fitted_at: must be timezone-aware (got {self.fitted_at!r})")

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": JSON_FORMAT,
                "fitted_at": self.fitted_at.isoformat(),
                "time_unit": self.time_unit,
                "penalizer_coef": self.penalizer_coef,
                "bgnbd": {
                    "r": self.bgnbd.params.r,
                    "alpha": self.bgnbd.params.alpha,
                    "a": self.bgnbd.params.a,
                    "b": self.bgnbd.params.b,
                    "log_likelihood": self.bgnbd.log_likelihood,
                    "customers": self.bgnbd.customers,
                    "converged": self.bgnbd.converged,
                },
                "gamma_gamma": {
                    "p": self.gamma_gamma.params.p,
                    "q": self.gamma_gamma.params.q,
                    "v": self.gamma_gamma.params.v,
                    "log_likelihood": self.gamma_gamma.log_likelihood,
                    "customers": self.gamma_gamma.customers,
                    "converged": self.gamma_gamma.converged,
                },
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> FittedModels:
        try:
            doc = json.loads(text)
            if doc.get("format") != JSON_FORMAT:
                raise ValueError(f"format: expected {JSON_FORMAT!r}, got {doc.get('format')!r}")
            bg, gg = doc["bgnbd"], doc["gamma_gamma"]
            return cls(
                bgnbd=BgNbdFit(
                    params=BgNbdParams(
                        r=float(bg["r"]),
                        alpha=float(bg["alpha"]),
                        a=float(bg["a"]),
                        b=float(bg["b"]),
                    ),
                    log_likelihood=float(bg["log_likelihood"]),
                    customers=int(bg["customers"]),
                    converged=bool(bg["converged"]),
                ),
                gamma_gamma=GammaGammaFit(
                    params=GammaGammaParams(p=float(gg["p"]), q=float(gg["q"]), v=float(gg["v"])),
                    log_likelihood=float(gg["log_likelihood"]),
                    customers=int(gg["customers"]),
                    converged=bool(gg["converged"]),
                ),
                fitted_at=datetime.fromisoformat(doc["fitted_at"]),
                time_unit=str(doc["time_unit"]),
                penalizer_coef=float(doc["penalizer_coef"]),
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a fitted-models document: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class CustomerScores:
    """Per-customer predictions, arrays in the input order."""

    p_alive: Array
    expected_purchases: Array  # repeat purchases in the next ``horizon``
    expected_spend: Array  # per purchase (Gamma-Gamma conditional mean)
    clv: Array


# -- fitting -------------------------------------------------------------------


def fit_models(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary: ArrayLike,
    *,
    fitted_at: datetime,
    time_unit: str = "days",
    penalizer_coef: float = 0.0,
    weights: ArrayLike | None = None,
) -> FittedModels:
    """Fit BG/NBD on every customer and Gamma-Gamma on the repeat buyers.

    ``weights`` (optional, whole numbers >= 0) counts the customers sharing a
    row, so a population grouped by (frequency, recency, T, monetary) fits
    the same as the ungrouped one, only faster.
    """
    x, tx, age, m = _summary(frequency, recency, T, monetary)
    w = _weights(weights, x.shape)
    return FittedModels(
        bgnbd=fit_bgnbd(x, tx, age, penalizer_coef=penalizer_coef, weights=w),
        gamma_gamma=fit_gamma_gamma(x, m, penalizer_coef=penalizer_coef, weights=w),
        fitted_at=fitted_at,
        time_unit=time_unit,
        penalizer_coef=penalizer_coef,
    )


def fit_bgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    penalizer_coef: float = 0.0,
    weights: ArrayLike | None = None,
) -> BgNbdFit:
    """Maximum-likelihood BG/NBD fit (L-BFGS-B on log-parameters, analytic gradient).

    Minimises ``-mean log-likelihood + penalizer_coef * (r^2 + alpha^2 + a^2 + b^2)``
    with time rescaled so that max T = 10, as lifetimes' ``BetaGeoFitter``
    (so ``penalizer_coef`` means the same there). Several starts; the best wins.
    """
    _check_penalizer(penalizer_coef)
    x, tx, age = _rft(frequency, recency, T)
    w = _weights(weights, x.shape)
    keep = w > 0
    x, tx, age, w = x[keep], tx[keep], age[keep], w[keep]
    if x.size == 0:
        raise ValueError("frequency: no customers to fit")
    scale = _TIME_SCALE_TARGET / float(age.max()) if float(age.max()) > 0 else 1.0
    tx_s, age_s = tx * scale, age * scale
    objective = _bgnbd_objective(x, tx_s, age_s, w, penalizer_coef)
    step = _sample_step(x.size)
    sample = None
    if step > 1:
        sample = _bgnbd_objective(x[::step], tx_s[::step], age_s[::step], w[::step], penalizer_coef)
    rate = _dot(w, x) / max(_dot(w, age_s), 1e-12)
    starts = [
        (1.0, 1.0, 1.0, 1.0),
        (1.0, 1.0 / max(rate, 1e-6), 1.0, 3.0),
        (0.25, 0.25 / max(rate, 1e-6), 0.8, 2.5),
    ]
    theta, converged = _minimise(objective, starts, sample, "frequency")
    r, alpha_scaled, a, b = (float(v) for v in theta)
    params = BgNbdParams(r=r, alpha=alpha_scaled / scale, a=a, b=b)
    ll = _dot(w, bgnbd_log_likelihood(params, x, tx, age))
    return BgNbdFit(params=params, log_likelihood=ll, customers=_count(w), converged=converged)


def fit_gamma_gamma(
    frequency: ArrayLike,
    monetary: ArrayLike,
    *,
    penalizer_coef: float = 0.0,
    weights: ArrayLike | None = None,
) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma fit on customers with frequency > 0 and monetary > 0.

    The penalty ``penalizer_coef * (p^2 + q^2 + v^2)`` applies with monetary
    rescaled to mean 1.
    """
    _check_penalizer(penalizer_coef)
    x = _column("frequency", frequency)
    m = _column("monetary", monetary)
    x, m = _broadcast(("frequency", x), ("monetary", m))
    _check_frequency(x)
    _check_nonnegative("monetary", m)
    _check_zero_when_no_repeat("monetary", m, x)
    w = _weights(weights, x.shape)
    use = (x > 0) & (m > 0) & (w > 0)
    x, m, w = x[use], m[use], w[use]
    if x.size < 2:
        raise ValueError(
            "monetary: Gamma-Gamma needs at least 2 customers with frequency > 0 and monetary > 0"
        )
    scale = _dot(w, m) / float(w.sum())
    objective = _gamma_gamma_objective(x, m / scale, w, penalizer_coef)
    step = _sample_step(x.size)
    sample = None
    if step > 1:
        sample = _gamma_gamma_objective(x[::step], m[::step] / scale, w[::step], penalizer_coef)
    starts = [(1.0, 1.0, 1.0), (2.0, 3.0, 2.0), (6.0, 4.0, 3.0)]
    theta, converged = _minimise(objective, starts, sample, "monetary")
    p, q, v_scaled = (float(v) for v in theta)
    params = GammaGammaParams(p=p, q=q, v=v_scaled * scale)
    ll = _dot(w, gamma_gamma_log_likelihood(params, x, m))
    return GammaGammaFit(params=params, log_likelihood=ll, customers=_count(w), converged=converged)


Objective: TypeAlias = Callable[[Array], tuple[float, Array]]


def _sample_step(n: int) -> int:
    """Every how many customers the multi-start runs on (1: all of them)."""
    return 1 if n <= _SAMPLE_ABOVE else math.ceil(n / _SAMPLE_SIZE)


def _minimise(
    objective: Objective,
    starts: Sequence[tuple[float, ...]],
    sample: Objective | None,
    field: str,
) -> tuple[Array, bool]:
    """The best of several L-BFGS-B runs, on log-parameters.

    With ``sample`` (a deterministic every-k-th subset of a big population)
    the starts run on the sample and only the best is polished on everyone.
    """
    best: Any = None
    for start in starts:
        res = _lbfgsb(sample or objective, np.log(np.asarray(start, dtype=np.float64)))
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
    if best is None:
        raise ValueError(f"{field}: the likelihood is not finite at any starting point")
    if sample is not None:
        best = _lbfgsb(objective, np.asarray(best.x, dtype=np.float64))
        if not np.isfinite(best.fun):
            raise ValueError(f"{field}: the likelihood is not finite at the sample optimum")
    log_theta = np.asarray(best.x, dtype=np.float64)
    at_bound = bool(np.any(np.abs(log_theta) >= _LOG_BOUND - 1e-6))
    grad = np.asarray(best.jac, dtype=np.float64)
    converged = bool(best.success or np.max(np.abs(grad)) < 1e-5) and not at_bound
    return np.exp(log_theta), converged


def _lbfgsb(objective: Objective, start: Array) -> Any:
    return minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * start.size,
        options={"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-8},
    )


def _bgnbd_objective(x: Array, tx: Array, age: Array, w: Array, pen: float) -> Objective:
    # Terms that depend on x only are summed over the distinct x values (few:
    # whole numbers); customers without repeat purchases only need sums over
    # their distinct T. A call then costs a dozen passes over the repeat buyers.
    xs, inverse = np.unique(x, return_inverse=True)
    nx = _sums(inverse, w, xs.size)
    total = float(w.sum())
    none = x == 0
    t0, inverse0 = np.unique(age[none], return_inverse=True)
    n0 = _sums(inverse0, w[none], t0.size)
    some = ~none
    x1, tx1, age1, w1 = x[some], tx[some], age[some], w[some]
    ix1 = inverse[some]
    xs_less_1 = np.maximum(xs, 1.0) - 1.0

    def f(log_theta: Array) -> tuple[float, Array]:
        r, alpha, a, b = (float(v) for v in np.exp(log_theta))
        # Per distinct x: ln Gamma(r+x)/Gamma(r) + ln B(a, b+x)/B(a, b).
        ll_x = gammaln(r + xs) - gammaln(r) + betaln(a, b + xs) - betaln(a, b)
        # Per customer: ll = ll_x + r ln alpha - (r+x) ln(alpha+T) + softplus(d),
        # d = ln a - ln(b+x-1) + (r+x)(ln(alpha+T) - ln(alpha+t_x)) when x > 0
        # (d = -inf, softplus(d) = 0 when x = 0); expit(d) = 1 - P(alive).
        ln_t0 = np.log(alpha + t0)
        inv_t0 = 1.0 / (alpha + t0)
        ln_at = np.log(alpha + age1)
        ln_atx = np.log(alpha + tx1)
        gap = ln_at - ln_atx
        rx = r + x1
        d = (math.log(a) - np.log(b + xs_less_1))[ix1] + rx * gap
        dead = expit(d)
        ll = (
            _dot(nx, ll_x)
            + total * r * math.log(alpha)
            - r * _dot(n0, ln_t0)
            + _dot(w1, np.logaddexp(0.0, d) - rx * ln_at)
        )
        wd = w1 * dead
        inv_at = 1.0 / (alpha + age1)
        inv_atx = 1.0 / (alpha + tx1)
        g_r = (
            _dot(nx, digamma(r + xs) - digamma(r))
            + total * math.log(alpha)
            - _dot(n0, ln_t0)
            - _dot(w1, ln_at)
            + _dot(wd, gap)
        )
        g_alpha = (
            total * r / alpha
            - r * _dot(n0, inv_t0)
            - _dot(w1 * rx, inv_at - dead * (inv_at - inv_atx))
        )
        psi_ab = float(digamma(a + b))
        psi_abx = digamma(a + b + xs)
        dead_by_x = _sums(ix1, wd, xs.size)
        g_a = _dot(nx, psi_ab - psi_abx) + float(dead_by_x.sum()) / a
        g_b = _dot(nx, digamma(b + xs) - psi_abx - float(digamma(b)) + psi_ab) - _dot(
            dead_by_x, 1.0 / (b + xs_less_1)
        )
        theta = np.array([r, alpha, a, b])
        value = -ll / total + pen * _dot(theta, theta)
        grad = np.array([g_r, g_alpha, g_a, g_b])
        return value, theta * (-grad / total + 2.0 * pen * theta)

    return f


def _gamma_gamma_objective(x: Array, m: Array, w: Array, pen: float) -> Objective:
    xs, inverse = np.unique(x, return_inverse=True)
    nx = _sums(inverse, w, xs.size)
    total = float(w.sum())
    ln_xs = np.log(xs)
    ln_m = np.log(m)
    s_x_ln_m = _dot(w * x, ln_m)
    s_ln_m = _dot(w, ln_m)
    xm = x * m

    def f(log_theta: Array) -> tuple[float, Array]:
        p, q, v = (float(t) for t in np.exp(log_theta))
        pxs = p * xs
        ln_xmv = np.log(xm + v)
        ll = (
            _dot(nx, gammaln(pxs + q) - gammaln(pxs) + pxs * ln_xs)
            + total * (q * math.log(v) - float(gammaln(q)))
            + p * s_x_ln_m
            - s_ln_m
            - _dot(w * (p * x + q), ln_xmv)
        )
        psi_pq = digamma(pxs + q)
        g_p = _dot(nx, xs * (psi_pq - digamma(pxs) + ln_xs)) + s_x_ln_m - _dot(w * x, ln_xmv)
        g_q = _dot(nx, psi_pq) + total * (math.log(v) - float(digamma(q))) - _dot(w, ln_xmv)
        g_v = total * q / v - _dot(w * (p * x + q), 1.0 / (xm + v))
        theta = np.array([p, q, v])
        value = -ll / total + pen * _dot(theta, theta)
        grad = np.array([g_p, g_q, g_v])
        return value, theta * (-grad / total + 2.0 * pen * theta)

    return f


# -- the models ----------------------------------------------------------------


def bgnbd_log_likelihood(
    params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> Array:
    """Per-customer BG/NBD log-likelihood (FHL 2005 eq. 6), in log space throughout.

    ``ln L = ln Gamma(r+x)/Gamma(r) + r ln alpha + ln B(a, b+x)/B(a, b)
    + logsumexp(-(r+x) ln(alpha+T), [x>0] (ln a - ln(b+x-1) - (r+x) ln(alpha+t_x)))``
    """
    x, tx, age = _rft(frequency, recency, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    first = gammaln(r + x) - gammaln(r) + r * math.log(alpha) + betaln(a, b + x) - betaln(a, b)
    alive = -(r + x) * np.log(alpha + age)
    with np.errstate(divide="ignore"):
        dropped = np.where(
            x > 0,
            math.log(a) - np.log(b + np.maximum(x, 1.0) - 1.0) - (r + x) * np.log(alpha + tx),
            -np.inf,
        )
    return np.asarray(first + np.logaddexp(alive, dropped), dtype=np.float64)


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, frequency: ArrayLike, monetary: ArrayLike
) -> Array:
    """Per-customer Gamma-Gamma log-likelihood of the mean spend (frequency > 0, monetary > 0).

    ``ln f = ln Gamma(px+q) - ln Gamma(px) - ln Gamma(q) + q ln v + (px-1) ln m
    + px ln x - (px+q) ln(x m + v)``
    """
    x = _column("frequency", frequency)
    m = _column("monetary", monetary)
    x, m = _broadcast(("frequency", x), ("monetary", m))
    _check_frequency(x)
    if np.any(x <= 0):
        raise ValueError("frequency: the Gamma-Gamma likelihood needs frequency > 0")
    if np.any(~(m > 0)):
        raise ValueError("monetary: the Gamma-Gamma likelihood needs monetary > 0")
    p, q, v = params.p, params.q, params.v
    px = p * x
    return np.asarray(
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * math.log(v)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + v),
        dtype=np.float64,
    )


def p_alive(params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Array:
    """P(alive | x, t_x, T) (Fader, Hardie & Lee 2008, note 021).

    ``1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``, evaluated as
    ``expit(-log-odds)`` so that x in the thousands or a huge T cannot overflow.
    """
    x, tx, age = _rft(frequency, recency, T)
    return _p_alive(params, x, tx, age)


def _p_alive(params: BgNbdParams, x: Array, tx: Array, age: Array) -> Array:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_odds = (
        math.log(a)
        - np.log(b + np.maximum(x, 1.0) - 1.0)
        + (r + x) * (np.log(alpha + age) - np.log(alpha + tx))
    )
    return np.asarray(np.where(x > 0, expit(-log_odds), 1.0), dtype=np.float64)


def expected_purchases(
    params: BgNbdParams,
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> Array:
    """E[repeat purchases in (T, T+t] | x, t_x, T] (FHL 2005 eq. 10), overflow-free.

    ``t`` is in the data's time unit (90 for 90 days when T is in days).
    Eq. 10 is ``(a+b+x-1)/(a-1) * (1 - G) * P(alive)`` with
    ``G = ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)``,
    ``z = t/(alpha+T+t)``. For x in the hundreds that 2F1 overflows while the
    power underflows. Euler's transformation
    ``2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z)`` turns G into
    ``(1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``: the upper parameters no
    longer grow with x, the lower one does (which only makes the series
    converge faster), and since C-A-B = x+r+1-a it stays bounded as z -> 1.
    ``1 - G`` is ``-expm1((a-1) ln(1-z) + ln1p(F - 1))``, full precision for
    small t. F - 1 comes from its power series for z <= 0.05 and from scipy's
    ``hyp2f1`` up to z = 0.99. Above 0.99 (t > 99 (alpha+T): scipy's hyp2f1
    was found off by orders of magnitude there without saying so, or nan for
    b in the thousands), when a is within 1e-6 of 1 (0/0), and wherever
    the result is not finite or leaves its bounds
    ``0 <= E <= t (r+x)/(alpha+T) P(alive)``, the expectation is integrated
    numerically instead (``_alive_purchases_quadrature``; agrees with the
    closed form to ~1e-10 where both apply).
    """
    x, tx, age = _rft(frequency, recency, T)
    horizon = _column("t", t)
    _check_nonnegative("t", horizon)
    horizon, x, tx, age = _broadcast(("t", horizon), ("frequency", x), ("recency", tx), ("T", age))
    return _expected_purchases(params, horizon, x, tx, age, _p_alive(params, x, tx, age))


def _expected_purchases(
    params: BgNbdParams, t: Array, x: Array, tx: Array, age: Array, alive: Array
) -> Array:
    shape = x.shape
    t, x, tx, age, alive = (np.ravel(v) for v in (t, x, tx, age, alive))
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + age + t)
    big_a = a + b - 1.0 - r
    big_b = a - 1.0
    big_c = a + b + x - 1.0
    with np.errstate(all="ignore"):
        # F - 1 for the transformed 2F1: by its series where z is small (a few
        # terms, and no cancellation in F - 1), by scipy's hyp2f1 up to
        # _HYP2F1_MAX_Z; closer to 1 (where hyp2f1 can be silently wrong) and
        # wherever the result is not finite or out of its bounds, by quadrature.
        small = z <= _SERIES_SMALL_Z
        middle = ~small & (z <= _HYP2F1_MAX_Z)
        f_minus_1 = np.full_like(z, np.nan)
        if np.any(small):
            f_minus_1[small] = _hyp2f1_series_minus_1(big_a, big_b, big_c[small], z[small])
        if np.any(middle):
            f_minus_1[middle] = hyp2f1(big_a, big_b, big_c[middle], z[middle]) - 1.0
        result = _from_hyp(f_minus_1, a, big_c, z, alive)  # nan where z > _HYP2F1_MAX_Z
        bound = t * (r + x) / (alpha + age) * alive
        bad = ~np.isfinite(result) | (result < 0) | (result > bound * (1 + 1e-8) + 1e-300)
        if abs(a - 1.0) < 1e-6:  # (a+b+x-1)/(a-1) (1-G) is 0/0 at a = 1
            bad[:] = True
        result[bad & (alive == 0)] = 0.0  # P(alive) underflowed: nothing to integrate
        bad &= alive > 0
        if np.any(bad):
            s = t[bad] / (alpha + age[bad])
            result[bad] = _alive_purchases_quadrature(r, a, b, x[bad], s) * alive[bad]
    return np.asarray(np.where(t == 0, 0.0, result), dtype=np.float64).reshape(shape)


def _from_hyp(f_minus_1: Array, a: float, c: Array, z: Array, alive: Array) -> Array:
    # 1 - G with G = (1-z)^(a-1) F: as -expm1(ln G) when F > 0 (always so when
    # c > 0), directly when F <= 0 (possible when c = a+b-1 < 0, x = 0).
    log_power = (a - 1.0) * np.log1p(-z)
    one_minus_g = np.where(
        f_minus_1 > -1.0,
        -np.expm1(log_power + np.log1p(f_minus_1)),
        1.0 - np.exp(log_power) * (1.0 + f_minus_1),
    )
    return np.asarray(c / (a - 1.0) * one_minus_g * alive, dtype=np.float64)


def _hyp2f1_series_minus_1(a: float, b: float, c: Array, z: Array) -> Array:
    """Gauss's series for 2F1(a, b; c; z) - 1 (used for z <= 0.05), summed to full precision.

    nan where it has not converged after ``_SERIES_MAX_TERMS`` terms (the
    caller then falls back to quadrature).
    """
    total = np.zeros_like(z)
    term = np.ones_like(z)
    done = np.zeros(z.shape, dtype=bool)
    for n in range(_SERIES_MAX_TERMS):
        term = term * ((a + n) * (b + n) / ((c + n) * (n + 1.0)) * z)
        total = total + np.where(done, 0.0, term)
        done = done | (np.abs(term) <= 1e-17 * np.abs(total))
        if done.all():
            return total
    return np.where(done, total, np.nan)


def _alive_purchases_quadrature(r: float, a: float, b: float, x: Array, s: Array) -> Array:
    """E[repeat purchases in the next t | alive, x] by quadrature, s = t/(alpha+T).

    Given alive, lambda ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b+x); a customer
    alive with (lambda, p) makes (1 - e^(-lambda p t))/p purchases in t on
    average. Integrating lambda out gives ``E_p[h(p)]``,
    ``h(p) = (1 - (1 + p s)^-(r+x)) / p``, a bounded smooth function (0 < h <=
    (r+x) s), integrated against Beta(a, b+x) in three parts: below p0 (where
    h = (r+x) s to 1e-9) exactly with the incomplete beta function; p0..1/2
    by Gauss-Legendre panels in ln p (the integrand is smooth there); 1/2..1
    by Gauss-Jacobi with the weight (1-p)^(b+x-1) (skipped when b+x > 600:
    below 2^-600 of the total).
    """
    # Once per distinct (x, s): with whole days, the customers who need this
    # (T within a few days of 0) share a handful of them.
    order = np.lexsort((s, x))
    xo, so = x[order], s[order]
    first = np.ones(xo.size, dtype=bool)
    first[1:] = (xo[1:] != xo[:-1]) | (so[1:] != so[:-1])
    xu, su = xo[first], so[first]
    values = np.empty_like(su)
    for start in range(0, su.size, _QUAD_CHUNK):
        part = slice(start, start + _QUAD_CHUNK)
        values[part] = _quadrature_chunk(r, a, b, xu[part], su[part])
    out = np.empty_like(s)
    out[order] = values[np.cumsum(first) - 1]
    return out


def _quadrature_chunk(r: float, a: float, b: float, x: Array, s: Array) -> Array:
    k = r + x
    beta = b + x
    log_norm = betaln(a, beta)
    log_s = np.log(s)
    # Below p0, h(p) = k s (1 - (k+1) p s / 2 + ...) = k s to 1e-9.
    log_p0 = np.minimum(math.log(1e-9) - np.log(k + 1.0) - log_s, math.log(0.25))
    log_p0 = np.maximum(log_p0, -690.0)
    tail = k * s * betainc(a, beta, np.exp(log_p0))
    # p0..1/2 in v = ln p: integrand h(p) p^a (1-p)^(beta-1) / B(a, beta).
    nodes, weights = _GAUSS_LEGENDRE
    panel = min(0.5, 2.0 / math.sqrt(max(a, 1.0)))
    length = -math.log(2.0) - log_p0
    panels = max(1, math.ceil(float(length.max()) / panel))
    step = length / panels
    grid = (np.arange(panels)[:, None] + (nodes[None, :] + 1.0) / 2.0).ravel()
    v = log_p0[:, None] + step[:, None] * grid[None, :]
    log_f = (
        _log_one_minus_power(k[:, None], v + log_s[:, None])
        + (a - 1.0) * v
        + (beta[:, None] - 1.0) * np.log1p(-np.exp(v))
        - log_norm[:, None]
    )
    w = np.tile(weights, panels) / 2.0
    middle = step * (np.exp(log_f) @ w)
    # 1/2..1: p = (3 + u)/4, (1-p)^(beta-1) dp = 4^-beta (1-u)^(beta-1) du.
    upper = np.zeros_like(s)
    for value in np.unique(beta[beta <= 600.0]):
        rows = beta == value
        u, wj = roots_jacobi(_GAUSS_JACOBI_NODES, value - 1.0, 0.0)
        p = (3.0 + u) / 4.0
        log_g = (
            _log_one_minus_power(k[rows][:, None], np.log(p)[None, :] + log_s[rows][:, None])
            + (a - 2.0) * np.log(p)[None, :]
            - log_norm[rows][:, None]
            - value * math.log(4.0)
        )
        upper[rows] = np.exp(log_g) @ wj
    return np.asarray(tail + middle + upper, dtype=np.float64)


def _log_one_minus_power(k: Array, log_ps: Array) -> Array:
    """ln(1 - (1 + p s)^-k) from ln(p s), without overflow or cancellation."""
    log1p_ps = np.logaddexp(0.0, log_ps)
    return np.asarray(np.log(-np.expm1(-k * log1p_ps)), dtype=np.float64)


def expected_spend(params: GammaGammaParams, frequency: ArrayLike, monetary: ArrayLike) -> Array:
    """E[spend per purchase | x, z-bar] (Gamma-Gamma, FHL 2005 / Fader & Hardie 2013).

    ``p (v + x m) / (p x + q - 1)``: a weighted mean of the population mean
    p v / (q - 1) and the customer's own mean m, the weight on m growing with x.
    For x = 0 it is the population mean. nan where the mean does not exist
    (p x + q <= 1).
    """
    x = _column("frequency", frequency)
    m = _column("monetary", monetary)
    x, m = _broadcast(("frequency", x), ("monetary", m))
    _check_frequency(x)
    _check_nonnegative("monetary", m)
    _check_zero_when_no_repeat("monetary", m, x)
    return _expected_spend(params, x, m)


def _expected_spend(params: GammaGammaParams, x: Array, m: Array) -> Array:
    p, q, v = params.p, params.q, params.v
    denominator = p * x + q - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = p * (v + x * m) / denominator
    return np.asarray(np.where(denominator > 0, mean, np.nan), dtype=np.float64)


def customer_lifetime_value(
    models: FittedModels | tuple[BgNbdParams, GammaGammaParams],
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary: ArrayLike,
    *,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    month_length: float = 30.0,
) -> Array:
    """Discounted expected spend over the next ``months`` months (formula: module docstring).

    ``month_length`` is a month in the data's time unit: 30 for days (as
    lifetimes), 4.345 for weeks. For an annual rate use
    ``monthly_rate(annual)``. Money in the unit of ``monetary``.
    """
    bg, gg = _params_of(models)
    x, tx, age, m = _summary(frequency, recency, T, monetary)
    return _clv(bg, gg, x, tx, age, m, months, monthly_discount_rate, month_length)


def _clv(
    bg: BgNbdParams,
    gg: GammaGammaParams,
    x: Array,
    tx: Array,
    age: Array,
    m: Array,
    months: int,
    monthly_discount_rate: float,
    month_length: float,
) -> Array:
    if isinstance(months, bool) or not isinstance(months, int) or months < 0:
        raise ValueError(f"months: must be a whole number >= 0 (got {months!r})")
    if not (math.isfinite(monthly_discount_rate) and monthly_discount_rate > -1.0):
        raise ValueError(
            f"monthly_discount_rate: must be finite and > -1 (got {monthly_discount_rate!r})"
        )
    if not (math.isfinite(month_length) and month_length > 0):
        raise ValueError(f"month_length: must be finite and > 0 (got {month_length!r})")
    alive = _p_alive(bg, x, tx, age)
    spend = _expected_spend(gg, x, m)
    value = np.zeros_like(x)
    before = np.zeros_like(x)
    for k in range(1, months + 1):
        t = np.full_like(x, k * month_length)
        upto = _expected_purchases(bg, t, x, tx, age, alive)
        value += (upto - before) / (1.0 + monthly_discount_rate) ** k
        before = upto
    return np.asarray(value * spend, dtype=np.float64)


def monthly_rate(annual_rate: float) -> float:
    """The monthly discount rate equivalent to ``annual_rate``: (1 + annual)^(1/12) - 1."""
    if not (math.isfinite(annual_rate) and annual_rate > -1.0):
        raise ValueError(f"annual_rate: must be finite and > -1 (got {annual_rate!r})")
    return float((1.0 + annual_rate) ** (1.0 / 12.0) - 1.0)


def score_customers(
    models: FittedModels | tuple[BgNbdParams, GammaGammaParams],
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary: ArrayLike,
    *,
    horizon: float = 90.0,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    month_length: float = 30.0,
) -> CustomerScores:
    """P(alive), expected repeat purchases in the next ``horizon``, expected spend, CLV."""
    bg, gg = _params_of(models)
    x, tx, age, m = _summary(frequency, recency, T, monetary)
    if not (math.isfinite(horizon) and horizon >= 0):
        raise ValueError(f"horizon: must be finite and >= 0 (got {horizon!r})")
    alive = _p_alive(bg, x, tx, age)
    purchases = _expected_purchases(bg, np.full_like(x, horizon), x, tx, age, alive)
    return CustomerScores(
        p_alive=alive,
        expected_purchases=purchases,
        expected_spend=_expected_spend(gg, x, m),
        clv=_clv(bg, gg, x, tx, age, m, months, monthly_discount_rate, month_length),
    )


def _params_of(
    models: FittedModels | tuple[BgNbdParams, GammaGammaParams],
) -> tuple[BgNbdParams, GammaGammaParams]:
    if isinstance(models, FittedModels):
        return models.bgnbd.params, models.gamma_gamma.params
    return models


# -- validation ----------------------------------------------------------------


def _column(name: str, values: ArrayLike) -> Array:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: not numbers ({exc})") from exc
    bad = ~np.isfinite(array)
    if np.any(bad):
        got = float(array[bad].flat[0])
        raise ValueError(f"{name}: must be finite (got {got!r}{_where(bad)})")
    return array


def _broadcast(*named: tuple[str, Array]) -> tuple[Array, ...]:
    try:
        arrays = np.broadcast_arrays(*(array for _, array in named))
    except ValueError as exc:
        shapes = ", ".join(f"{name} {array.shape}" for name, array in named)
        raise ValueError(f"{named[0][0]}: shapes do not match ({shapes})") from exc
    return tuple(np.array(array, dtype=np.float64) for array in arrays)


def _rft(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> tuple[Array, Array, Array]:
    x, tx, age = _broadcast(
        ("frequency", _column("frequency", frequency)),
        ("recency", _column("recency", recency)),
        ("T", _column("T", T)),
    )
    _check_frequency(x)
    _check_nonnegative("recency", tx)
    _check_nonnegative("T", age)
    over = tx > age
    if np.any(over):
        i = _first(over)
        got, limit = float(tx.flat[i]), float(age.flat[i])
        raise ValueError(f"recency: must be <= T (got recency {got!r} > T {limit!r}{_where(over)})")
    _check_zero_when_no_repeat("recency", tx, x)
    return x, tx, age


def _summary(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, monetary: ArrayLike
) -> tuple[Array, Array, Array, Array]:
    x, tx, age = _rft(frequency, recency, T)
    m = _column("monetary", monetary)
    _check_nonnegative("monetary", m)
    x, tx, age, m = _broadcast(("frequency", x), ("recency", tx), ("T", age), ("monetary", m))
    _check_zero_when_no_repeat("monetary", m, x)
    return x, tx, age, m


def _weights(weights: ArrayLike | None, shape: tuple[int, ...]) -> Array:
    if weights is None:
        return np.ones(shape, dtype=np.float64)
    w = _column("weights", weights)
    _check_nonnegative("weights", w)
    if w.shape != shape:
        raise ValueError(f"weights: shape {w.shape} does not match frequency {shape}")
    return w


def _check_frequency(x: Array) -> None:
    _check_nonnegative("frequency", x)
    fractional = x != np.floor(x)
    if np.any(fractional):
        got = float(x[fractional].flat[0])
        raise ValueError(f"frequency: must be whole numbers (got {got!r}{_where(fractional)})")


def _check_nonnegative(name: str, array: Array) -> None:
    negative = array < 0
    if np.any(negative):
        got = float(array[negative].flat[0])
        raise ValueError(f"{name}: must be >= 0 (got {got!r}{_where(negative)})")


def _check_zero_when_no_repeat(name: str, array: Array, x: Array) -> None:
    bad = (x == 0) & (array != 0)
    if np.any(bad):
        got = float(array[bad].flat[0])
        raise ValueError(f"{name}: must be 0 when frequency is 0 (got {got!r}{_where(bad)})")


def _check_penalizer(penalizer_coef: float) -> None:
    if not (math.isfinite(penalizer_coef) and penalizer_coef >= 0):
        raise ValueError(f"penalizer_coef: must be finite and >= 0 (got {penalizer_coef!r})")


def _positive_params(*values: float, names: tuple[str, ...]) -> None:
    for name, value in zip(names, values, strict=True):
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name}: must be a finite number > 0 (got {value!r})")


def _first(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask)[0])


def _where(mask: npt.NDArray[np.bool_]) -> str:
    if mask.ndim == 0:
        return ""
    return f" at index {_first(mask)}"


def _sums(groups: npt.NDArray[np.intp], weights: Array, size: int) -> Array:
    """The sum of ``weights`` per group number 0..size-1."""
    return np.asarray(np.bincount(groups, weights=weights, minlength=size), dtype=np.float64)


def _dot(a: Array, b: Array) -> float:
    # einsum's own loop rather than np.dot / @ (BLAS): on a busy machine the
    # BLAS threads made a 1-D dot product up to 100x slower, and the fits
    # call this a dozen times per likelihood evaluation.
    return float(np.einsum("i,i->", a, b))


def _count(w: Array) -> int:
    return round(float(w.sum()))
