"""Pareto analysis shared by every search strategy: a thin layer over pymoo.

Conventions, the same everywhere in hwnas:

* Inputs are ``F`` of shape (n_points, n_objectives) in the user's units plus one direction per
  column, ``"min"`` or ``"max"`` (or objects with a ``.direction`` attribute holding one).
  Internally everything is minimised: ``max`` columns are negated (:func:`to_min`). Values a
  user reads back (reference point, ideal, nadir) are given in the user's units again.
* Identical points do not dominate each other, so duplicates on the front are *all* marked
  non-dominated (pymoo's behaviour). Deduplicate beforehand if a table should list one.
* Hypervolume and IGD are computed in min-max normalised space, ``(f - ideal) / (nadir - ideal)``
  per objective, so objectives in different units weigh the same. A shared :class:`Normaliser`
  is what makes numbers from different runs comparable (:func:`compare_runs`). The default
  hypervolume reference point is 1.1 in every normalised objective: 10 % beyond the nadir, so
  the extreme points of the front still add some volume. Points beyond it add nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hwnas.errors import BadInputError

DIRECTIONS = ("min", "max")
DEFAULT_REF = 1.1  # reference point per objective, in normalised space

__all__ = [
    "DEFAULT_REF", "DIRECTIONS", "HypervolumeResult", "Normaliser", "compare_runs",
    "front_order", "hypervolume", "igd", "knee_index", "non_dominated_mask", "to_min",
]


# ---------------------------------------------------------------- input checks


def _signs(directions: Sequence, n_obj: int | None = None) -> np.ndarray:
    """+1 for a 'min' objective, -1 for a 'max' one (multiplying by it gives min-form)."""
    if isinstance(directions, (str, bytes)):
        raise BadInputError(
            "directions must be a sequence with one 'min' or 'max' per objective, "
            f"e.g. ('max', 'min'). Got the string {directions!r} instead."
        )
    dirs = [getattr(d, "direction", d) for d in directions]
    for i, d in enumerate(dirs):
        if d not in DIRECTIONS:
            close = difflib.get_close_matches(str(d).strip().lower(), DIRECTIONS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "."
            raise BadInputError(f"direction {i} must be 'min' or 'max'. Got {d!r} instead{hint}")
    if n_obj is not None and len(dirs) != n_obj:
        raise BadInputError(
            f"got {len(dirs)} direction(s) for {n_obj} objective column(s); "
            "give exactly one 'min' or 'max' per column."
        )
    return np.array([-1.0 if d == "max" else 1.0 for d in dirs])


def _as_matrix(F, what: str = "F") -> np.ndarray:
    """A finite float array of shape (n_points, n_objectives); zero points are allowed."""
    try:
        A = np.asarray(F, dtype=float)
    except (TypeError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInputError(
            f"{what} must be a numeric array of shape (n_points, n_objectives). "
            f"Got a {type(F).__name__} that numpy cannot convert ({reason})."
        ) from None
    if A.ndim != 2 or A.shape[1] == 0:
        raise BadInputError(
            f"{what} must have shape (n_points, n_objectives) with at least one objective. "
            f"Got shape {A.shape} instead."
        )
    bad = np.flatnonzero(~np.isfinite(A).all(axis=1))
    if bad.size:
        raise BadInputError(
            f"{what} has non-finite values (NaN or inf) in {bad.size} row(s), first row "
            f"{bad[0]}; drop or repair those points first."
        )
    return A


def _as_vector(v, n_obj: int, what: str) -> np.ndarray:
    A = _as_matrix(np.reshape(np.asarray(v, dtype=float), (1, -1)), what)
    if A.shape[1] != n_obj:
        raise BadInputError(f"{what} must have {n_obj} value(s). Got {A.shape[1]} instead.")
    return A[0]


def _to_min(F, directions: Sequence, what: str) -> np.ndarray:
    A = _as_matrix(F, what)
    return A * _signs(directions, A.shape[1])


def to_min(F, directions: Sequence) -> np.ndarray:
    """``F`` in min-form: a new float array with every 'max' column negated."""
    return _to_min(F, directions, "F")


# ---------------------------------------------------------------- fronts


def _front_mask_min(F_min: np.ndarray) -> np.ndarray:
    # pymoo is imported where used: it costs ~0.2 s, and `import hwnas` should stay fast.
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    mask = np.zeros(len(F_min), dtype=bool)
    if len(F_min):
        mask[NonDominatedSorting().do(F_min, only_non_dominated_front=True)] = True
    return mask


def _front_order_min(F_min: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(_front_mask_min(F_min))
    # lexsort's last key is the primary one: first objective, then the rest, ties by index.
    order = np.lexsort(F_min[idx].T[::-1])
    return idx[order]


def non_dominated_mask(F, directions: Sequence) -> np.ndarray:
    """True for each point of ``F`` that no other point dominates (duplicates all stay True)."""
    return _front_mask_min(to_min(F, directions))


def front_order(F, directions: Sequence) -> np.ndarray:
    """Indices into ``F`` of its front points, best first on the first objective.

    Ties on the first objective are broken by the following objectives, then by index, so
    the order is deterministic (what a table or a step plot wants).
    """
    return _front_order_min(to_min(F, directions))


# ---------------------------------------------------------------- normalisation


@dataclass(frozen=True, eq=False)
class Normaliser:
    """Min-max normalisation of min-form objectives: ideal -> 0, nadir -> 1.

    An objective with zero range (nadir == ideal) is divided by 1 instead, so it maps to 0
    for points at the ideal and contributes no spurious spread.
    """

    ideal: np.ndarray
    nadir: np.ndarray

    def __post_init__(self) -> None:
        ideal = _as_vector(self.ideal, np.size(self.ideal), "Normaliser ideal")
        nadir = _as_vector(self.nadir, ideal.size, "Normaliser nadir")
        if np.any(nadir < ideal):
            raise BadInputError(
                "Normaliser nadir must be >= ideal in every (min-form) objective. "
                f"Got ideal {ideal.tolist()} and nadir {nadir.tolist()} instead."
            )
        for name, arr in (("ideal", ideal), ("nadir", nadir)):
            arr.setflags(write=False)  # frozen means frozen, arrays included
            object.__setattr__(self, name, arr)

    @classmethod
    def from_points(cls, F_min) -> Normaliser:
        """Ideal and nadir of the given min-form points (at least one)."""
        A = _as_matrix(F_min, "F_min")
        if len(A) == 0:
            raise BadInputError("cannot normalise over zero points; give at least one point.")
        return cls(A.min(axis=0), A.max(axis=0))

    @property
    def n_obj(self) -> int:
        return int(self.ideal.size)

    @property
    def scale(self) -> np.ndarray:
        span = self.nadir - self.ideal
        return np.where(span > 0, span, 1.0)

    def forward(self, F_min) -> np.ndarray:
        A = _as_matrix(F_min, "F_min")
        if A.shape[1] != self.n_obj:
            raise BadInputError(
                f"the normaliser has {self.n_obj} objective(s) but the points have "
                f"{A.shape[1]}; build it from points with the same objectives."
            )
        return (A - self.ideal) / self.scale

    def backward(self, Z) -> np.ndarray:
        return np.asarray(Z, dtype=float) * self.scale + self.ideal


# ---------------------------------------------------------------- indicators


@dataclass(frozen=True)
class HypervolumeResult:
    """A hypervolume with everything needed to state how it was computed.

    ``ref_point``, ``ideal`` and ``nadir`` are in the user's units (max objectives as given,
    not negated). ``normalised`` says whether ``value`` is in normalised space (unitless, at
    most 1.1**n_obj with the default reference) or in the product of the raw units.
    """

    value: float
    ref_point: tuple[float, ...]
    normalised: bool
    ideal: tuple[float, ...]
    nadir: tuple[float, ...]


def _hv(Z: np.ndarray, ref: np.ndarray) -> float:
    from pymoo.indicators.hv import HV

    return float(HV(ref_point=ref)(Z)) if len(Z) else 0.0


def _user(v_min: np.ndarray, signs: np.ndarray) -> tuple[float, ...]:
    return tuple(float(x) for x in np.asarray(v_min) * signs)


def hypervolume(
    F, directions: Sequence, ref_point=None, normaliser: Normaliser | None = None
) -> HypervolumeResult:
    """Hypervolume dominated by ``F`` (only its non-dominated points matter).

    * Default: normalise with ``normaliser`` or, if None, with the ideal/nadir of ``F`` itself,
      and use a reference point of 1.1 in every normalised objective.
    * ``ref_point`` given (user's units) with a ``normaliser``: the same, with that reference.
    * ``ref_point`` given without a ``normaliser``: raw hypervolume in the user's units
      (``normalised=False``), for users who fixed a reference point themselves.
    """
    F_min = to_min(F, directions)
    signs = _signs(directions, F_min.shape[1])
    n_obj = F_min.shape[1]
    ref_user = None if ref_point is None else _as_vector(ref_point, n_obj, "ref_point")
    if normaliser is None and ref_user is not None:
        if len(F_min) == 0:
            raise BadInputError("a raw hypervolume needs at least one point; F is empty.")
        ref_min = ref_user * signs
        value = _hv(F_min, ref_min)
        return HypervolumeResult(
            value, _user(ref_min, signs), False,
            _user(F_min.min(axis=0), signs), _user(F_min.max(axis=0), signs),
        )
    norm = normaliser if normaliser is not None else Normaliser.from_points(F_min)
    if ref_user is None:
        ref_n = np.full(n_obj, DEFAULT_REF)
    else:
        ref_n = norm.forward((ref_user * signs)[None, :])[0]
    value = _hv(norm.forward(F_min), ref_n)
    return HypervolumeResult(
        value, _user(norm.backward(ref_n), signs), True,
        _user(norm.ideal, signs), _user(norm.nadir, signs),
    )


def igd(F, reference_front, directions: Sequence, normaliser: Normaliser | None = None) -> float:
    """Inverted generational distance of ``F`` to ``reference_front`` (lower is better).

    Both are normalised with ``normaliser`` or, if None, with the reference front's own
    ideal/nadir. An empty ``F`` is infinitely far from any front, so it gives ``inf``.
    """
    R_min = _to_min(reference_front, directions, "reference_front")
    F_min = _to_min(F, directions, "F")
    if len(R_min) == 0:
        raise BadInputError("reference_front is empty; IGD needs at least one reference point.")
    if len(F_min) == 0:
        return float("inf")
    from pymoo.indicators.igd import IGD

    norm = normaliser if normaliser is not None else Normaliser.from_points(R_min)
    return float(IGD(norm.forward(R_min))(norm.forward(F_min)))


# ---------------------------------------------------------------- knee


def _extreme_index(Z: np.ndarray, j: int) -> int:
    # The point lying nearest axis j (NSGA-III's achievement scalarising function with a
    # tiny weight off axis j): unlike "best in objective j" it stays unique when several
    # points tie at 0 in j, which is common on 3+ objective fronts. Ties go to the lowest sum.
    weights = np.full(Z.shape[1], 1e-6)
    weights[j] = 1.0
    asf = (Z / weights).max(axis=1)
    return int(np.lexsort((Z.sum(axis=1), asf))[0])


def _distance_to_extremes_plane(Z: np.ndarray) -> np.ndarray | None:
    """Signed distance of each normalised front point to the hyperplane through the extreme
    points, positive on the ideal's side; None when that plane is not well defined."""
    n, m = Z.shape
    if n < 3 or m < 2:
        return None
    E = Z[[_extreme_index(Z, j) for j in range(m)]]
    centre = E.mean(axis=0)
    _, s, vt = np.linalg.svd(E - centre)
    if s[m - 2] <= 1e-12:  # extremes coincide: no unique hyperplane
        return None
    normal = vt[-1]
    toward_ideal = float(normal @ (0.0 - centre))
    if abs(toward_ideal) <= 1e-12:
        return None
    if toward_ideal < 0:
        normal = -normal
    return (Z - centre) @ normal


def knee_index(F, directions: Sequence) -> int:
    """Index into ``F`` of the knee of its front.

    Definition (Das 1999's normal-boundary knee; the measure KnEA, Zhang et al. 2015, uses):
    in space normalised by the front's ideal and nadir, the front point farthest from the line
    (2 objectives) or hyperplane (more) through the extreme points (NSGA-III's: the points
    nearest each axis), on the ideal's side: where trading one objective for another stops
    paying. Falls back to the front point closest (Euclidean) to the normalised ideal when the
    front has fewer than 3 points, the extremes do not span a plane, or no point bulges toward
    the ideal (a linear or concave front has no knee).
    """
    F_min = to_min(F, directions)
    if len(F_min) == 0:
        raise BadInputError("F is empty; a knee needs at least one point.")
    idx = _front_order_min(F_min)  # sorted, so ties resolve to the best first objective
    Z = Normaliser.from_points(F_min[idx]).forward(F_min[idx])
    dist = _distance_to_extremes_plane(Z)
    if dist is None or dist.max() <= 1e-12:
        return int(idx[np.argmin(np.linalg.norm(Z, axis=1))])
    return int(idx[np.argmax(dist)])


# ---------------------------------------------------------------- comparing runs


def compare_runs(runs: Mapping[str, np.ndarray], directions: Sequence,
                 normaliser: Normaliser | None = None, ref_point=None) -> dict:
    """Fronts of several runs on one scale, so they can be compared fairly.

    Every run's hypervolume uses one normaliser and one reference point (1.1 normalised, or
    ``ref_point`` in the user's units). ``normaliser`` is best fixed independently of the runs
    (hwnas.api.hv_reference: bounds stored with each run), so that a run's number does not change
    with the runs shown beside it; without one it is built over the union of all runs' points,
    and the numbers hold for this comparison only. Returns plain JSON-ready data::

        {"ideal": [...], "nadir": [...], "ref_point": [...],   # user's units
         "union_size": int, "union_front_size": int,
         "runs": {name: {"n_points", "front_size", "front_in_union", "hypervolume",
                         "front_indices"}}}

    ``front_in_union`` counts a run's front points that no point of any run dominates;
    identical points from two runs count for both.
    """
    if not runs:
        raise BadInputError("compare_runs needs at least one run; got none.")
    mins = {name: _to_min(F, directions, f"run {name!r}") for name, F in runs.items()}
    widths = {F.shape[1] for F in mins.values()}
    if len(widths) != 1:
        raise BadInputError(f"runs have different numbers of objectives: {sorted(widths)}.")
    union = np.vstack(list(mins.values()))
    if len(union) == 0:
        raise BadInputError("every run is empty; there is nothing to compare.")
    signs = _signs(directions, union.shape[1])
    # A reference point given without bounds: raw hypervolume, in the objectives' units.
    raw = normaliser is None and ref_point is not None
    norm = normaliser if normaliser is not None else Normaliser.from_points(union)
    union_mask = _front_mask_min(union)
    out: dict[str, dict] = {}
    start = 0
    for name, F_min in mins.items():
        in_union = union_mask[start:start + len(F_min)]
        start += len(F_min)
        order = _front_order_min(F_min)
        hv = hypervolume(F_min * signs, directions, ref_point=ref_point,
                         normaliser=None if raw else norm)
        out[name] = {
            "n_points": int(len(F_min)),
            "front_size": int(order.size),
            "front_in_union": int(in_union.sum()),  # union-non-dominated implies run front
            "hypervolume": hv.value,
            "front_indices": [int(i) for i in order],
        }
    ref_min = (norm.backward(np.full(union.shape[1], DEFAULT_REF)) if ref_point is None
               else _as_vector(ref_point, union.shape[1], "ref_point") * signs)
    return {
        "normalised": not raw,
        "ideal": list(_user(norm.ideal, signs)),
        "nadir": list(_user(norm.nadir, signs)),
        "ref_point": list(_user(ref_min, signs)),
        "union_size": int(len(union)),
        "union_front_size": int(union_mask.sum()),
        "runs": out,
    }
