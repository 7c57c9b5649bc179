"""Probability of area (POA) around a last-known point, from published lost-person statistics.

Source: Koester, R. J. (2008), *Lost Person Behavior: A Search and Rescue Guide on Where to
Look — for Land, Air and Water*, dbS Productions, Charlottesville VA; the "Distance from the
IPP" tables of each subject category, built from the International Search & Rescue Incident
Database (ISRID). Each gives the straight-line distance from the initial planning point
within which 25, 50, 75 and 95 % of the subjects of that category were found, per eco-region
(temperate, dry, urban) and terrain (mountainous, flat). The figures below are those tables'
values in statute miles, as transcribed in the open-source IGT4SAR tools (Don Ferguson,
`IPP_EuclideanDistance2.py`), which credit Koester. Only the categories and terrains found
there are shipped; a category or terrain without a published row is refused, never guessed.
Where a category's table has no split by terrain or region, one row serves all.

The ring model (standard in SAR planning, e.g. IGT4SAR and SARTopo): 25 % of the probability
lies uniformly in the disc to the 25 % distance, 25 % in the ring out to the 50 % distance,
25 % to the 75 % distance, 20 % to the 95 % distance. The last 5 % are not in any table;
this module spreads them evenly between the 95 % ring and twice its radius (an assumption,
stated here and in the README). Ground outside the search area keeps its probability: it is
the "rest of the world", so the POA of an area is below 1 when the rings reach beyond it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from missions.errors import PlanError

MILE_M = 1609.344
RING_SHARES = (0.25, 0.25, 0.25, 0.20, 0.05)
OUTER_FACTOR = 2.0  # the last 5 % lie between the 95 % ring and this times its radius

TM, TF, DM, DF, UR = (
    "temperate-mountainous",
    "temperate-flat",
    "dry-mountainous",
    "dry-flat",
    "urban",
)
TERRAINS = (TM, TF, DM, DF, UR)
TEMPERATE, DRY = (TM, TF), (DM, DF)

# Koester (2008), Distance from the IPP, statute miles: (25 %, 50 %, 75 %, 95 %).
_ISRID_MILES: dict[str, dict[tuple[str, ...], tuple[float, float, float, float]]] = {
    "hiker": {
        (TM,): (0.7, 1.9, 3.6, 11.3),
        (TF,): (0.4, 1.1, 2.0, 6.1),
        (DM,): (1.0, 2.0, 4.0, 11.9),
        (DF,): (0.8, 1.3, 4.1, 8.1),
    },
    "hunter": {
        (TM,): (0.6, 1.3, 3.0, 10.7),
        (TF,): (0.4, 1.0, 1.9, 8.5),
        (DM,): (1.3, 3.0, 5.0, 13.8),
        (DF,): (1.0, 1.9, 4.0, 7.0),
    },
    "dementia": {
        (TM,): (0.2, 0.5, 1.2, 5.1),
        (TF,): (0.2, 0.6, 1.5, 7.9),
        (DM,): (0.6, 1.2, 1.9, 3.8),
        (DF,): (0.3, 1.0, 2.2, 7.3),
        (UR,): (0.2, 0.7, 2.0, 7.8),
    },
    "despondent": {
        (TM,): (0.2, 0.7, 2.0, 13.3),
        (TF,): (0.2, 0.5, 1.4, 10.7),
        (DM,): (0.5, 1.0, 2.1, 11.1),
        (DF,): (0.3, 1.2, 2.3, 12.8),
        (UR,): (0.06, 0.3, 0.9, 8.1),
    },
    "child-1-3": {
        TEMPERATE: (0.1, 0.2, 0.6, 2.0),
        DRY: (0.4, 0.8, 2.4, 5.6),
        (UR,): (0.1, 0.3, 0.5, 0.7),
    },
    "child-4-6": {
        (TM,): (0.1, 0.5, 0.9, 2.3),
        (TF,): (0.1, 0.4, 0.9, 4.1),
        DRY: (0.4, 1.2, 2.0, 5.1),
        (UR,): (0.06, 0.3, 0.6, 2.1),
    },
    "child-7-9": {
        (TM,): (0.5, 1.0, 2.0, 7.0),
        (TF,): (0.1, 0.5, 1.3, 5.0),
        DRY: (0.3, 0.8, 2.0, 4.5),
        (UR,): (0.1, 0.3, 0.9, 3.2),
    },
    "child-10-12": {
        (TM,): (0.5, 1.0, 2.0, 5.6),
        (TF,): (0.3, 1.0, 3.0, 6.2),
        DRY: (0.5, 1.3, 4.5, 10.0),
        (UR,): (0.2, 0.9, 1.8, 3.6),
    },
    "child-13-15": {
        (TM,): (0.5, 1.3, 3.0, 13.3),
        (TF,): (0.4, 0.8, 2.0, 6.2),
        DRY: (1.5, 2.0, 3.0, 7.4),
    },
    "autistic": {(UR,): (0.2, 0.6, 2.4, 5.0), TEMPERATE + DRY: (0.4, 1.0, 2.3, 9.5)},
    "mental-illness": {
        (UR,): (0.2, 0.4, 0.9, 7.7),
        (TM,): (0.4, 1.4, 5.1, 9.0),
        (TF, *DRY): (0.5, 0.6, 1.4, 5.0),
    },
    "angler": {(TM,): (0.2, 0.9, 3.4, 6.1), (TF,): (0.5, 1.0, 3.4, 6.1), DRY: (2.0, 6.0, 6.5, 8.0)},
    "gatherer": {DRY: (1.0, 1.6, 3.6, 6.9), TEMPERATE: (0.9, 2.0, 4.0, 8.0)},
    "climber": {TEMPERATE + DRY: (0.1, 1.0, 2.0, 9.2)},
    "runner": {TEMPERATE + DRY: (0.9, 1.6, 2.1, 3.6)},
    "horseback-rider": {TEMPERATE + DRY: (0.2, 2.0, 5.0, 12.2)},
    "mountain-biker": {DRY: (1.7, 4.0, 8.2, 18.1), TEMPERATE: (1.9, 2.5, 7.0, 15.5)},
    "skier-nordic": {DRY: (1.2, 2.7, 4.0, 12.1), TEMPERATE: (1.0, 2.2, 4.0, 12.2)},
}
CATEGORIES = tuple(sorted(_ISRID_MILES))


def isrid_distances_m(category: str, terrain: str = TM) -> tuple[float, float, float, float]:
    """The 25/50/75/95 % distances (metres) for a subject category and terrain."""
    rows = _ISRID_MILES.get(category)
    if rows is None:
        raise PlanError(
            f"unknown subject category '{category}'; choose from {', '.join(CATEGORIES)}"
        )
    for terrains, miles in rows.items():
        if terrain in terrains:
            return tuple(m * MILE_M for m in miles)  # type: ignore[return-value]
    have = sorted({t for ts in rows for t in ts})
    if terrain not in TERRAINS:
        raise PlanError(f"unknown terrain '{terrain}'; choose from {', '.join(TERRAINS)}")
    raise PlanError(
        f"no published distances for '{category}' in '{terrain}' terrain; the source table "
        f"has {', '.join(have)}"
    )


@dataclass(frozen=True)
class RingModel:
    """Probability density around a last-known point (local metres), ring by ring."""

    lkp: tuple[float, float]
    radii_m: tuple[float, ...]  # outer radius of each ring, increasing
    shares: tuple[float, ...] = RING_SHARES
    category: str = ""
    terrain: str = ""

    @classmethod
    def isrid(cls, lkp_xy: NDArray[np.float64], category: str, terrain: str = TM) -> RingModel:
        r = isrid_distances_m(category, terrain)
        radii = (*r, OUTER_FACTOR * r[-1])
        return cls((float(lkp_xy[0]), float(lkp_xy[1])), radii, RING_SHARES, category, terrain)

    def rings(self) -> list[BaseGeometry]:
        """The rings as polygons (a disc, then annuli)."""
        c = shapely.Point(self.lkp)
        discs = [c.buffer(r, quad_segs=32) for r in self.radii_m]
        return [discs[0]] + [shapely.difference(b, a) for a, b in itertools.pairwise(discs)]

    def densities(self) -> NDArray[np.float64]:
        """Probability per m² in each ring."""
        r = np.r_[0.0, self.radii_m]
        return np.asarray(self.shares) / (np.pi * (r[1:] ** 2 - r[:-1] ** 2))

    def poa(self, geoms) -> NDArray[np.float64]:
        """Probability that the subject is in each geometry (vectorised)."""
        g = np.atleast_1d(np.asarray(geoms, dtype=object))
        out = np.zeros(len(g))
        for ring, dens in zip(self.rings(), self.densities(), strict=True):
            out += dens * shapely.area(shapely.intersection(g, ring))
        return out

    def density_at(self, xy: NDArray[np.float64]) -> NDArray[np.float64]:
        d = np.linalg.norm(np.asarray(xy, float).reshape(-1, 2) - np.asarray(self.lkp), axis=1)
        k = np.searchsorted(np.asarray(self.radii_m), d, side="right")
        dens = np.r_[self.densities(), 0.0]
        return dens[k]

    def sample(self, rng: np.random.Generator, n: int, within: BaseGeometry) -> NDArray[np.float64]:
        """`n` positions drawn from the model, conditioned on lying in `within`."""
        out: list[NDArray[np.float64]] = []
        shapely.prepare(within)
        r_out = np.asarray(self.radii_m)
        r_in = np.r_[0.0, r_out[:-1]]
        have = 0
        for _ in range(200):
            m = max(4 * (n - have), 256)
            k = rng.choice(len(self.shares), size=m, p=np.asarray(self.shares) / sum(self.shares))
            # Uniform in area within the ring: r = sqrt(U (r1² - r0²) + r0²).
            rr = np.sqrt(rng.uniform(size=m) * (r_out[k] ** 2 - r_in[k] ** 2) + r_in[k] ** 2)
            th = rng.uniform(0, 2 * np.pi, size=m)
            pts = np.asarray(self.lkp) + np.column_stack([rr * np.cos(th), rr * np.sin(th)])
            pts = pts[shapely.contains_xy(within, pts[:, 0], pts[:, 1])]
            out.append(pts)
            have += len(pts)
            if have >= n:
                break
        got = np.vstack(out) if out else np.zeros((0, 2))
        if len(got) < n:
            raise PlanError("the search area holds almost none of the subject's probability")
        return got[:n]
