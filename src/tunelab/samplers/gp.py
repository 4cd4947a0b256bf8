"""Bayesian optimization with a Gaussian-process surrogate and log expected improvement.

Sources of the method (the code is written for tunelab):

* J. Snoek, H. Larochelle & R. P. Adams, "Practical Bayesian Optimization of Machine Learning
  Algorithms", NeurIPS 2012: a GP prior with an ARD Matern-5/2 kernel, hyperparameters fitted
  to the data, expected improvement, and pending evaluations accounted for.
* C. E. Rasmussen & C. K. I. Williams, "Gaussian Processes for Machine Learning", MIT Press
  2006, ch. 2 and 5: the Cholesky-based posterior and the log marginal likelihood with its
  gradient.
* S. Ament, S. Daulton, D. Eriksson, M. Balandat & E. Bakshy, "Unexpected Improvements to
  Expected Improvement for Bayesian Optimization", NeurIPS 2023: log EI computed without
  underflow, so that candidates far below the incumbent still rank and have a gradient.
* J. R. Gardner, M. J. Kusner, Z. Xu, K. Q. Weinberger & J. P. Cunningham, "Bayesian
  Optimization with Inequality Constraints", ICML 2014: constrained EI, the product of EI and
  the probability that each constraint, modelled by a GP of its own, holds.
* D. Ginsbourger, R. Le Riche & L. Carraro, "Kriging Is Well-Suited to Parallelize
  Optimization", 2010: the kriging believer for batches and running trials.

How the search space is modelled: the joint space (the parameters every completed trial used;
see :mod:`tunelab.samplers._neighbourhood`) is seen through the unit mapping of each
distribution. A float without step is one continuous input in ``[0, 1]`` (log ranges in log
space). An int or a stepped float is one input, snapped to the centre of its value's bin, so
that the acquisition is evaluated at the point that will actually run. A categorical of ``n``
choices is ``n`` one-hot inputs scaled so that two different choices are at distance 1, with
one lengthscale for the parameter; a categorical with more than ``max_choices`` choices would
add that many inputs and swamp the model, so it is left out of the joint space and drawn at
random, with a warning that names it. Conditional parameters fall outside the joint space and
are drawn at random.

The model: the objective (signed so that higher is better) is standardized and modelled by a
zero-mean GP with kernel ``s2 * Matern52(r) + noise``, ``r`` the distance scaled by one
lengthscale per parameter (ARD). The log-lengthscales, log-signal variance and log-noise
(fixed at a tiny value with ``deterministic_objective=True``) maximize the log marginal
likelihood plus weak log-normal priors, with L-BFGS-B and an analytic gradient, started from a
fixed default every time, so that a fit depends on the history alone.

The acquisition is log EI over the best observed value. It is maximized over Sobol points and
perturbations of the best trials, snapped to the grid; the best few are refined by L-BFGS-B on
their continuous coordinates (the discrete ones held). A batch from ``ask(n)``, and the trials
that are running (in this process or, with stored parameters, in others), are handled by the
kriging believer: each is added as an observation equal to the posterior mean, and the model
is updated without refitting its hyperparameters. Proposals are distinct from each other and
from running trials whenever the space allows.

Constraints (:mod:`tunelab.constraints`): when completed trials carry constraint values (from
``constraints_func`` or ``trial.set_constraints``), each constraint is modelled by a GP of its
own, and the acquisition becomes the constrained EI of Gardner et al. (ICML 2014): log EI over
the best *feasible* trial plus the log probability that each constraint holds (before any
trial is feasible, the probabilities alone). The local search then starts from the best
feasible trials.

The first ``n_startup_trials`` completed trials are random. A seeded sampler is reproducible:
every random draw for a trial comes from a generator seeded by (seed, trial number).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import linalg, optimize
from scipy.linalg import lapack
from scipy.special import erfcx, log_ndtr
from scipy.stats import qmc

from tunelab._options import check_flag, check_int
from tunelab.constraints import constraint_values, violation
from tunelab.samplers._constraints import ConstraintsFunc, store_constraints
from tunelab.samplers._neighbourhood import (
    JointSampler,
    point_key,
    point_of,
    running_points,
    study_key,
)
from tunelab.samplers._options import check_constraints_func
from tunelab.samplers.base import BaseSampler
from tunelab.space import CategoricalDistribution, Distribution, FloatDistribution, IntDistribution
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import Trial

_WHERE = "GP"
_SQRT5 = math.sqrt(5.0)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_SQRT_PI_OVER_2 = 0.5 * math.log(math.pi / 2.0)
_DETERMINISTIC_NOISE = 1e-6
_JITTER = 1e-8

# Bounds and weak priors (mean, sd) of the log-hyperparameters, on standardized outputs and
# unit inputs.
_LS_BOUNDS = (math.log(0.01), math.log(20.0))
_LS_PRIOR = (math.log(0.5), 1.5)
_SF2_BOUNDS = (math.log(0.05), math.log(20.0))
_SF2_PRIOR = (0.0, 1.0)
_NOISE_BOUNDS = (math.log(1e-6), math.log(0.5))
_NOISE_PRIOR = (math.log(1e-3), 2.5)

_N_REFINE = 4  # candidates refined by L-BFGS-B
_N_LOCAL_CENTRES = 5  # best trials whose neighbourhood is searched
_N_LOCAL_PER_CENTRE = 64


# The inputs -------------------------------------------------------------------------------


class _Encoder:
    """The joint space as model inputs: ``z`` (one unit value per parameter) and features
    (one column per ordered parameter, one-hot columns per categorical)."""

    def __init__(self, space: dict[str, Distribution]) -> None:
        self.space = space
        self.names = list(space)
        self.dim = len(space)
        self.kind: list[str] = []
        self.n_values: list[int] = []
        self.log_bounds: list[tuple[float, float, int, int]] = []
        groups: list[int] = []
        for j, d in enumerate(space.values()):
            bounds = (0.0, 0.0, 0, 0)
            if isinstance(d, CategoricalDistribution):
                kind, n = "cat", len(d.choices)
                groups += [j] * n
            else:
                groups.append(j)
                if isinstance(d, FloatDistribution) and d.step is None:
                    kind, n = "cont", 0
                elif isinstance(d, IntDistribution) and d.log:
                    kind, n = "logint", 0
                    bounds = (math.log(d.low - 0.5), math.log(d.high + 0.5), d.low, d.high)
                else:
                    kind = "grid"
                    step = float(d.step)  # type: ignore[arg-type]
                    n = int(round((float(d.high) - float(d.low)) / step)) + 1
            self.kind.append(kind)
            self.n_values.append(n)
            self.log_bounds.append(bounds)
        self.groups = np.array(groups, dtype=int)
        self.n_features = len(groups)
        # Dimensions of z refined by L-BFGS-B, and their feature columns (equal to z).
        self.continuous = np.array([j for j, k in enumerate(self.kind) if k == "cont"], dtype=int)
        starts = np.concatenate([[0], np.cumsum([max(n, 1) if k == "cat" else 1
                                                 for k, n in zip(self.kind, self.n_values)])])
        self.column = starts[:-1]
        self.continuous_columns = self.column[self.continuous]

    def encode(self, params: dict[str, Any]) -> np.ndarray:
        return np.array([self.space[name].to_unit(params[name]) for name in self.names])

    def decode(self, z: np.ndarray) -> dict[str, Any]:
        z = np.clip(z, 0.0, 1.0)
        return {name: d.from_unit(float(u)) for (name, d), u in zip(self.space.items(), z)}

    def snap(self, z: np.ndarray) -> np.ndarray:
        """Points ``(m, dim)`` moved to the unit value of the parameter values they decode to."""
        z = np.clip(np.array(z, dtype=float), 0.0, 1.0)
        for j, kind in enumerate(self.kind):
            if kind in ("grid", "cat"):
                n = self.n_values[j]
                z[:, j] = (np.minimum(np.floor(z[:, j] * n), n - 1) + 0.5) / n
            elif kind == "logint":
                lo, hi, low, high = self.log_bounds[j]
                value = np.clip(np.round(np.exp(lo + z[:, j] * (hi - lo))), low, high)
                z[:, j] = (np.log(value) - lo) / (hi - lo)
        return z

    def features(self, z: np.ndarray) -> np.ndarray:
        """Features of snapped points ``(m, dim)``."""
        out = np.zeros((z.shape[0], self.n_features))
        for j, kind in enumerate(self.kind):
            c = self.column[j]
            if kind == "cat":
                n = self.n_values[j]
                index = np.minimum(np.floor(z[:, j] * n), n - 1).astype(int)
                out[np.arange(z.shape[0]), c + index] = math.sqrt(0.5)
            else:
                out[:, c] = z[:, j]
        return out


# The model ---------------------------------------------------------------------------------


def _matern(r2: np.ndarray, sf2: float) -> np.ndarray:
    s = np.sqrt(5.0 * np.maximum(r2, 0.0))
    covariance: np.ndarray = sf2 * (1.0 + s + s * s / 3.0) * np.exp(-s)
    return covariance


def _scaled_sqdist(a: np.ndarray, b: np.ndarray, inv_ls: np.ndarray) -> np.ndarray:
    a, b = a * inv_ls, b * inv_ls
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    sqdist: np.ndarray = np.maximum(d, 0.0)
    return sqdist


def _try_cholesky(k: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor (upper triangle zeroed), or None if ``k`` is not positive
    definite."""
    chol, info = lapack.dpotrf(k, lower=1, clean=1)
    return chol if info == 0 else None


def _inverse(chol: np.ndarray) -> np.ndarray:
    """``K^-1`` from the lower Cholesky factor of ``K``."""
    inv, info = lapack.dpotri(chol, lower=1)
    if info != 0:
        solved: np.ndarray = linalg.cho_solve((chol, True), np.eye(len(chol)), check_finite=False)
        return solved
    full: np.ndarray = np.tril(inv) + np.tril(inv, -1).T
    return full


def _cholesky(k: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor, with growing jitter if ``k`` is numerically singular."""
    jitter = 0.0
    for _ in range(10):
        chol = _try_cholesky(k + jitter * np.eye(len(k)) if jitter else k)
        if chol is not None:
            return chol
        jitter = max(jitter * 10.0, 1e-8 * float(np.mean(np.diag(k))))
    raise linalg.LinAlgError("kernel matrix is not positive definite")


class _Hyper:
    """Log-hyperparameters: one lengthscale per parameter, signal variance, noise."""

    def __init__(self, theta: np.ndarray, n_params: int) -> None:
        self.theta = theta
        self.log_ls = theta[:n_params]
        self.sf2 = float(np.exp(theta[n_params]))
        self.noise = float(np.exp(theta[n_params + 1]))


class _GP:
    """The posterior of a zero-mean GP at fixed hyperparameters."""

    def __init__(self, x: np.ndarray, y: np.ndarray, hyper: _Hyper, groups: np.ndarray) -> None:
        self.x, self.y, self.hyper, self.groups = x, y, hyper, groups
        self.inv_ls = np.exp(-hyper.log_ls)[groups]  # per feature column
        k = _matern(_scaled_sqdist(x, x, self.inv_ls), hyper.sf2)
        k[np.diag_indices_from(k)] += hyper.noise + _JITTER
        self.chol = _cholesky(k)
        self.alpha = linalg.cho_solve((self.chol, True), y, check_finite=False)
        self._k_inv: np.ndarray | None = None

    @property
    def k_inv(self) -> np.ndarray:
        if self._k_inv is None:
            self._k_inv = _inverse(self.chol)
        return self._k_inv

    def with_observation(self, x: np.ndarray, y: float) -> _GP:
        return _GP(np.vstack([self.x, x[None]]), np.append(self.y, y), self.hyper, self.groups)

    def predict(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of the latent function at ``xs`` ``(m, features)``."""
        ks = _matern(_scaled_sqdist(xs, self.x, self.inv_ls), self.hyper.sf2)
        mean = ks @ self.alpha
        var = self.hyper.sf2 - np.einsum("ij,ij->i", ks @ self.k_inv, ks)
        return mean, np.maximum(var, 1e-12)

    def predict_with_gradient(
        self, xs: np.ndarray, columns: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean, variance and their gradients ``(m, len(columns))`` along feature ``columns``."""
        r2 = _scaled_sqdist(xs, self.x, self.inv_ls)
        s = np.sqrt(5.0 * r2)
        e = np.exp(-s)
        ks = self.hyper.sf2 * (1.0 + s + s * s / 3.0) * e
        # d k / d x_c = -sf2 * 5/3 * (1 + s) e^{-s} * (x_c - X_c) / l_c^2
        common = -self.hyper.sf2 * (5.0 / 3.0) * (1.0 + s) * e  # (m, n)
        kinv_ks = ks @ self.k_inv  # (m, n)
        mean = ks @ self.alpha
        var = self.hyper.sf2 - np.einsum("ij,ij->i", kinv_ks, ks)
        il2 = self.inv_ls[columns] ** 2
        diff = (xs[:, None, columns] - self.x[None, :, columns]) * il2  # (m, n, c)
        dks = common[:, :, None] * diff
        dmean = np.einsum("mnc,n->mc", dks, self.alpha)
        dvar = -2.0 * np.einsum("mnc,mn->mc", dks, kinv_ks)
        return mean, np.maximum(var, 1e-12), dmean, dvar


def _neg_log_posterior(
    theta: np.ndarray,
    y: np.ndarray,
    sq_parts: np.ndarray,
    fixed_noise: float | None,
) -> tuple[float, np.ndarray]:
    """Negative log marginal likelihood plus log-prior, and its gradient in ``theta``.

    ``sq_parts[j]`` is the squared distance matrix of parameter ``j`` before scaling.
    """
    p = sq_parts.shape[0]
    n = len(y)
    inv_l2 = np.exp(-2.0 * theta[:p])
    sf2 = math.exp(theta[p])
    noise = fixed_noise if fixed_noise is not None else math.exp(theta[p + 1])
    r2 = np.tensordot(inv_l2, sq_parts, axes=1)
    s = np.sqrt(5.0 * r2)
    e = np.exp(-s)
    kf = sf2 * (1.0 + s + s * s / 3.0) * e
    k = kf.copy()
    k[np.diag_indices(n)] += noise + _JITTER
    chol = _try_cholesky(k)
    if chol is None:
        return 1e10, np.zeros_like(theta)
    alpha = linalg.cho_solve((chol, True), y, check_finite=False)
    k_inv = _inverse(chol)
    nll = 0.5 * float(y @ alpha) + float(np.log(np.diag(chol)).sum()) + n * _HALF_LOG_2PI
    w = np.outer(alpha, alpha) - k_inv  # d(-nll)/dK = w / 2
    grad = np.zeros_like(theta)
    # dK/dlog l_j = sf2 5/3 (1 + s) e^{-s} * sq_parts[j] / l_j^2
    dk_common = sf2 * (5.0 / 3.0) * (1.0 + s) * e
    grad[:p] = -0.5 * inv_l2 * (sq_parts.reshape(p, -1) @ (w * dk_common).ravel())
    grad[p] = -0.5 * float(np.einsum("ab,ab->", w, kf))
    if fixed_noise is None:
        grad[p + 1] = -0.5 * noise * float(np.trace(w))
    # Log-normal priors.
    for index, (mu, sd) in [(slice(0, p), _LS_PRIOR), (p, _SF2_PRIOR), (p + 1, _NOISE_PRIOR)]:
        if index == p + 1 and fixed_noise is not None:
            continue
        t = theta[index]
        nll += float(np.sum(0.5 * ((t - mu) / sd) ** 2))
        grad[index] += (t - mu) / sd**2
    return nll, grad


# The acquisition ---------------------------------------------------------------------------


def log_h(z: np.ndarray) -> np.ndarray:
    """``log(z Phi(z) + phi(z))``, accurate for every real ``z`` (log EI of a unit-variance
    posterior whose mean is ``z`` above the incumbent).

    For ``z > -1`` it is computed directly. Below, ``h(z) = phi(z) (1 - |z| Phi(z) / phi(z))``
    and the ratio is ``|z| erfcx(-z / sqrt 2) sqrt(pi / 2)``, so ``log h`` is ``log phi(z)``
    plus a log1mexp of the ratio's log, which never underflows. Beyond ``z < -1e4`` the
    asymptote ``log phi(z) - 2 log|z|`` is used.
    """
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    upper = z > -1.0
    zu = z[upper]
    out[upper] = np.log(zu * np.exp(log_ndtr(zu)) + np.exp(-0.5 * zu * zu - _HALF_LOG_2PI))
    mid = (~upper) & (z >= -1e4)
    zm = z[mid]
    log_phi = -0.5 * zm * zm - _HALF_LOG_2PI
    c = np.log(erfcx(-zm / math.sqrt(2.0)) * np.abs(zm)) + _LOG_SQRT_PI_OVER_2  # < 0
    log1mexp = np.where(c > -math.log(2.0), np.log(-np.expm1(c)), np.log1p(-np.exp(c)))
    out[mid] = log_phi + log1mexp
    far = z < -1e4
    zf = z[far]
    out[far] = -0.5 * zf * zf - _HALF_LOG_2PI - 2.0 * np.log(-zf)
    return out


def log_expected_improvement(mean: np.ndarray, var: np.ndarray, best: float) -> np.ndarray:
    """``log E[max(f - best, 0)]`` for ``f ~ N(mean, var)``, finite for every candidate."""
    sd = np.sqrt(var)
    log_ei: np.ndarray = log_h((mean - best) / sd) + np.log(sd)
    return log_ei


def _log_ei_with_gradient(
    gp: _GP, xs: np.ndarray, columns: np.ndarray, best: float
) -> tuple[np.ndarray, np.ndarray]:
    mean, var, dmean, dvar = gp.predict_with_gradient(xs, columns)
    sd = np.sqrt(var)
    z = (mean - best) / sd
    lh = log_h(z)
    # d log h / dz = Phi(z) / h(z)
    dlh = np.exp(log_ndtr(z) - lh)
    dsd = dvar / (2.0 * sd[:, None])
    dz = dmean / sd[:, None] - (z / sd)[:, None] * dsd
    return lh + np.log(sd), dlh[:, None] * dz + dsd / sd[:, None]


class _Acquisition:
    """What a proposal maximizes: log EI of the objective's model over ``best`` plus, for each
    constraint's model, the log probability that the constraint holds (the constrained EI of
    Gardner, Kusner, Xu, Weinberger & Cunningham, "Bayesian Optimization with Inequality
    Constraints", ICML 2014). With no feasible trial yet there is nothing to improve on, and
    only the probability of feasibility counts."""

    def __init__(
        self, gp: _GP, best: float | None, constraints: Sequence[tuple[_GP, float]] = ()
    ) -> None:
        self.gp, self.best = gp, best
        self.constraints = constraints  # (model, standardized threshold) per constraint

    def with_gp(self, gp: _GP) -> _Acquisition:
        return _Acquisition(gp, self.best, self.constraints)

    def score(self, xs: np.ndarray) -> np.ndarray:
        total = np.zeros(len(xs))
        if self.best is not None:
            total = log_expected_improvement(*self.gp.predict(xs), self.best)
        for model, threshold in self.constraints:
            mean, var = model.predict(xs)
            total = total + log_ndtr((threshold - mean) / np.sqrt(var))
        return total

    def score_with_gradient(
        self, xs: np.ndarray, columns: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        value, grad = np.zeros(len(xs)), np.zeros((len(xs), len(columns)))
        if self.best is not None:
            value, grad = _log_ei_with_gradient(self.gp, xs, columns, self.best)
        for model, threshold in self.constraints:
            mean, var, dmean, dvar = model.predict_with_gradient(xs, columns)
            sd = np.sqrt(var)
            z = (threshold - mean) / sd
            log_p = log_ndtr(z)
            # d log Phi(z) / dz = phi(z) / Phi(z)
            ratio = np.exp(-0.5 * z * z - _HALF_LOG_2PI - log_p)
            dz = -dmean / sd[:, None] - (z / sd)[:, None] * (dvar / (2.0 * sd[:, None]))
            value = value + log_p
            grad = grad + ratio[:, None] * dz
        return value, grad


def _standardized(f: np.ndarray) -> np.ndarray:
    std = float(f.std())
    standardized: np.ndarray = (f - f.mean()) / (std if std > 0 else 1.0)
    return standardized


# The sampler -------------------------------------------------------------------------------


class GPSampler(JointSampler):
    """Gaussian-process Bayesian optimization (Matern-5/2 ARD kernel, log EI).

    Args:
        seed: makes the search reproducible; None draws one.
        n_startup_trials: completed trials drawn at random before the model is used.
        n_candidates: quasi-random points at which the acquisition is evaluated per proposal
            (perturbations of the best trials and a gradient refinement come on top).
        deterministic_objective: True when the objective returns the same value for the same
            parameters; the noise is then fixed at a tiny value instead of being fitted.
        max_choices: categorical parameters with more choices are drawn at random (with a
            warning) rather than modelled; TPE handles large categoricals better.
        constraints_func: ``record -> sequence of floats``, each ``<= 0`` when satisfied,
            called once per completed trial and stored with it; None uses the values the
            objective sets with ``trial.set_constraints``, if any. Each constraint gets a model
            of its own, and a proposal maximizes log EI over the best feasible trial plus the
            log probability that every constraint holds.
        independent_sampler: draws the start-up trials and the parameters outside the joint
            space; None draws them at random.

    Optuna's ``warn_independent_sampling`` only governs a log message of Optuna's, which
    tunelab does not write.
    """

    display_name = _WHERE

    def __init__(
        self,
        seed: int | None = None,
        n_startup_trials: int = 10,
        n_candidates: int = 2048,
        deterministic_objective: bool = False,
        max_choices: int = 32,
        constraints_func: ConstraintsFunc | None = None,
        independent_sampler: BaseSampler | None = None,
        warn_independent_sampling: bool = True,
    ) -> None:
        super().__init__(seed, independent_sampler)
        self.constraints_func = check_constraints_func(_WHERE, constraints_func)
        check_flag(_WHERE, "warn_independent_sampling", warn_independent_sampling)
        self.n_startup_trials = check_int(
            _WHERE, "n_startup_trials", n_startup_trials, 1,
            "they are random trials on which the first model is fitted.",
        )
        self.n_candidates = check_int(
            _WHERE, "n_candidates", n_candidates, 16,
            "it is the number of quasi-random points scored per proposal.",
        )
        self.deterministic_objective = check_flag(
            _WHERE, "deterministic_objective", deterministic_objective
        )
        self.max_choices = check_int(
            _WHERE, "max_choices", max_choices, 2,
            "categoricals with more choices than this are drawn at random.",
        )
        self._warned_choices: set[str] = set()
        # Completed trials of one (study, space): number -> (unit point, value, constraint
        # values) or None.
        self._encoded: tuple[Any, dict[int, Any]] = (None, {})

    # Model fitting ---------------------------------------------------------------------------

    def _fit(self, enc: _Encoder, x: np.ndarray, y: np.ndarray) -> _Hyper:
        p = enc.dim
        fixed = _DETERMINISTIC_NOISE if self.deterministic_objective else None
        sq_parts = np.zeros((p, len(y), len(y)))
        for c, j in enumerate(enc.groups):
            d = x[:, c][:, None] - x[:, c][None, :]
            sq_parts[j] += d * d
        default = np.concatenate([np.full(p, _LS_PRIOR[0]), [0.0, math.log(1e-2)]])
        if fixed is not None:
            default[p + 1] = math.log(fixed)
        # Every fit starts from the default, so that it depends on the history alone and a
        # fresh sampler proposes what a running one does (a warm start from the previous fit
        # made the proposals depend on which fits the process had made before).
        bounds = [_LS_BOUNDS] * p + [_SF2_BOUNDS, _NOISE_BOUNDS]
        if fixed is not None:
            bounds[p + 1] = (math.log(fixed), math.log(fixed))
        lower, upper = zip(*bounds)
        start = np.clip(default, lower, upper)
        result = optimize.minimize(
            _neg_log_posterior, start, args=(y, sq_parts, fixed), jac=True, method="L-BFGS-B",
            bounds=bounds, options={"maxiter": 100, "ftol": 1e-7},
        )
        return _Hyper(np.array(result.x if np.isfinite(result.fun) else start), p)

    # Acquisition optimization ----------------------------------------------------------------

    def _candidates(
        self, enc: _Encoder, rng: np.random.Generator, centres: np.ndarray
    ) -> np.ndarray:
        m = 1 << max(4, int(math.ceil(math.log2(self.n_candidates))))
        sobol = qmc.Sobol(enc.dim, scramble=True, seed=rng).random(m)[: self.n_candidates]
        local = []
        for centre in centres:
            sigma = rng.choice([0.01, 0.03, 0.1], size=(_N_LOCAL_PER_CENTRE, 1))
            step = rng.normal(size=(_N_LOCAL_PER_CENTRE, enc.dim)) * sigma
            points = np.clip(centre + step, 0.0, 1.0)
            for j, kind in enumerate(enc.kind):
                if kind == "cat":
                    flip = rng.random(_N_LOCAL_PER_CENTRE) < 0.2
                    points[flip, j] = rng.random(int(flip.sum()))
                    points[~flip, j] = centre[j]
            local.append(points)
        return enc.snap(np.vstack([sobol] + local))

    def _refine(
        self, acquisition: _Acquisition, enc: _Encoder, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """L-BFGS-B on the continuous coordinates of the points ``z`` (the others held).

        The points are independent, so they are refined together: the sum of their log EI is
        maximized, whose gradient is the stack of their own gradients.
        """
        dims, columns = enc.continuous, enc.continuous_columns
        base = enc.features(z)
        k, c = len(z), len(dims)

        def negative(u: np.ndarray) -> tuple[float, np.ndarray]:
            x = base.copy()
            x[:, columns] = u.reshape(k, c)
            value, grad = acquisition.score_with_gradient(x, columns)
            return -float(value.sum()), -grad.ravel()

        result = optimize.minimize(
            negative, z[:, dims].ravel(), jac=True, method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * (k * c), options={"maxiter": 200},
        )
        out = z.copy()
        out[:, dims] = np.clip(result.x.reshape(k, c), 0.0, 1.0)
        return out, acquisition.score(enc.features(out))

    def _propose(
        self,
        acquisition: _Acquisition,
        enc: _Encoder,
        centres: np.ndarray,
        rng: np.random.Generator,
        taken: set[Any],
    ) -> np.ndarray:
        z = self._candidates(enc, rng, centres)
        score = acquisition.score(enc.features(z))
        order = np.argsort(-score, kind="stable")
        ranked: list[tuple[float, np.ndarray]] = [
            (float(score[i]), z[i]) for i in order[: 4 * _N_REFINE]
        ]
        if len(enc.continuous):
            starts = np.array([point for _, point in ranked[:_N_REFINE]])
            new, new_score = self._refine(acquisition, enc, starts)
            ranked = [
                (float(v), p) for v, p in zip(new_score, new) if np.isfinite(v)
            ] + ranked
        ranked.sort(key=lambda item: -item[0])
        for _, point in ranked:
            if point_key(enc.decode(point), enc.space) not in taken:
                return point
        for i in order[4 * _N_REFINE :]:
            candidate: np.ndarray = z[i]
            if point_key(enc.decode(candidate), enc.space) not in taken:
                return candidate
        for _ in range(256):
            drawn: np.ndarray = enc.snap(rng.random((1, enc.dim)))[0]
            if point_key(enc.decode(drawn), enc.space) not in taken:
                return drawn
        return ranked[0][1]

    # The sampler -----------------------------------------------------------------------------

    def infer_relative_search_space(
        self, study: Study, trial: Trial | None = None
    ) -> dict[str, Distribution]:
        space = super().infer_relative_search_space(study, trial)
        too_large = [
            name for name, d in space.items()
            if isinstance(d, CategoricalDistribution) and len(d.choices) > self.max_choices
        ]
        for name in too_large:
            if name not in self._warned_choices:
                self._warned_choices.add(name)
                warnings.warn(
                    f"GP: parameter {name!r} has {len(space[name].choices)} choices, more than "  # type: ignore[union-attr]
                    f"max_choices={self.max_choices}; it is drawn at random. Use the 'tpe' "
                    "sampler for large categoricals, or raise max_choices.",
                    UserWarning,
                    stacklevel=3,
                )
            del space[name]
        return space

    def sample_relative_batch(
        self, study: Study, trials: Sequence[Trial], search_space: dict[str, Distribution]
    ) -> list[dict[str, Any]]:
        records = study.storage.get_trials(study.study_id)
        key = study_key(study)
        space_key = (key, tuple(search_space.items()))
        enc = _Encoder(search_space)
        sign = -1.0 if study.directions[0] == "maximize" else 1.0
        points, values, constraints = self._observations(records, search_space, enc, space_key)
        if len(values) < self.n_startup_trials:
            return [{} for _ in trials]  # start-up: every parameter from sample_independent
        z_obs = enc.snap(np.array(points))
        f = -sign * np.array(values)  # higher is better
        y = _standardized(f)
        x = enc.features(z_obs)

        gp = _GP(x, y, self._fit(enc, x, y), enc.groups)
        feasible = np.array([violation(c) <= 0 for c in constraints], dtype=bool)
        best = float(y[feasible].max()) if feasible.any() else None
        models = self._constraint_models(enc, x, constraints)
        acquisition = _Acquisition(gp, best, models)
        centres = z_obs[np.lexsort((-y, ~feasible))[:_N_LOCAL_CENTRES]]

        running = [r for r in records if r.state is TrialState.RUNNING]
        mine = {number: params for (k, number), params in self._proposed.items() if k == key}
        pending = running_points(running, search_space, mine)
        taken = {point_key(params, search_space) for params in pending}
        if pending:
            z_pending = enc.snap(np.array([enc.encode(params) for params in pending]))
            for xp in enc.features(z_pending):
                gp = gp.with_observation(xp, float(gp.predict(xp[None])[0][0]))
            acquisition = acquisition.with_gp(gp)

        batch = []
        for index, trial in enumerate(trials):
            rng = np.random.default_rng([self.seed % (1 << 63), trial.number])
            z = self._propose(acquisition, enc, centres, rng, taken)
            params = enc.decode(z)
            taken.add(point_key(params, search_space))
            self._proposed[(key, trial.number)] = params
            batch.append(params)
            if index + 1 < len(trials):
                xp = enc.features(enc.snap(enc.encode(params)[None]))[0]
                gp = gp.with_observation(xp, float(gp.predict(xp[None])[0][0]))
                acquisition = acquisition.with_gp(gp)
        return batch

    def after_trial(
        self,
        study: Study,
        trial: Trial | TrialRecord,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        super().after_trial(study, trial, state, values)
        store_constraints(self.constraints_func, _WHERE, study, trial, state, values)

    def _observations(
        self,
        records: list[TrialRecord],
        space: dict[str, Distribution],
        enc: _Encoder,
        space_key: tuple[Any, ...],
    ) -> tuple[list[np.ndarray], list[float], list[list[float] | None]]:
        """The unit points, values and stored constraint values of the completed trials that
        have the whole space and a finite value, in number order."""
        # Completed trials never change: what is read of them is cached per (study, space).
        if self._encoded[0] != space_key:
            self._encoded = (space_key, {})
        encoded = self._encoded[1]
        points, values, constraints = [], [], []
        for record in records:
            if record.state is not TrialState.COMPLETE or not record.values:
                continue
            if record.number not in encoded:
                params = point_of(record, space)
                value = float(record.values[0])
                ok = params is not None and math.isfinite(value)
                encoded[record.number] = (
                    (enc.encode(params), value, constraint_values(record)) if ok else None  # type: ignore[arg-type]
                )
            item = encoded[record.number]
            if item is not None:
                points.append(item[0])
                values.append(item[1])
                constraints.append(item[2])
        return points, values, constraints

    def _constraint_models(
        self,
        enc: _Encoder,
        x: np.ndarray,
        constraints: list[list[float] | None],
    ) -> list[tuple[_GP, float]]:
        """One model per constraint, fitted to the trials whose constraint values are all
        finite numbers, with the standardized threshold ``0`` below which it holds."""
        widths = {len(c) for c in constraints if c is not None}
        if not widths:
            return []
        width = max(widths)
        rows = [
            i for i, c in enumerate(constraints)
            if c is not None and len(c) == width and all(math.isfinite(v) for v in c)
        ]
        if not rows:
            return []
        table = np.array([constraints[i] for i in rows], dtype=float)
        models = []
        for j in range(width):
            column = table[:, j]
            centre, scale = float(column.mean()), float(column.std()) or 1.0
            y = (column - centre) / scale
            hyper = self._fit(enc, x[rows], y)
            models.append((_GP(x[rows], y, hyper, enc.groups), -centre / scale))
        return models
