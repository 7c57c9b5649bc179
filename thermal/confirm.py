"""Confirmation: sightings from many frames and drones, associated on the ground into targets.

A sighting joins the nearest live target within a gate of a few sigma of their combined
position uncertainty (never tighter than `min_gate_m`, never wider than `max_gate_m`) plus,
for a person, her length: lying, she is 1.8 m long, and what one look places on the ground
is the part it saw (head and shoulders, the legs, the whole body from another angle), so two
sightings of one motionless person lie up to a body length apart before any pose error. Each
target takes at most one sighting per frame; a second piece of the same body in that frame
(within a body length of the piece that took the target - one pose, so no pose error between
them) joins it as a fragment, while two people a few metres apart in one frame stay two; and
the frame's common shift (its pose error) is taken out before its sightings are matched, so
such two are not swapped. A target whose class was seen in `min_frames`
distinct frames (any drones) is confirmed and becomes a `Hit` - the class is confirmed, not
just the place; an unclassified warm blob at the place corroborates a body seen clearly once.
Its position is the inverse-variance mean of its sightings, its class the confidence-weighted
vote; a person or animal among many hot objects (sun-heated ground, rock, roofs) needs more
evidence. Pose errors of one pass are correlated, so the fused uncertainty is not allowed to
shrink below a fraction of the best single sighting.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from thermal.georef import latlon_to_offset, offset_to_latlon
from thermal.hit import Hit, Sighting, TargetClass


def _key(s: Sighting) -> tuple[int | None, int]:
    return (s.vehicle_id, s.frame_id)


def _tentative(s: Sighting) -> bool:
    return s.target_class == "unknown"


_NAMESPACE = uuid.UUID("6f1c8a52-3d0e-4d7e-9b0a-2f6a1c9e7b11")


@dataclass(frozen=True)
class ConfirmConfig:
    min_frames: int = 2
    gate_sigma: float = 3.0
    min_gate_m: float = 4.0
    max_gate_m: float = 25.0
    max_gap_s: float = 900.0  # a target unseen for longer starts afresh (it may have moved)
    # How far apart two sightings of one body may lie on the ground before any pose error:
    # its length. Lying, a person is about 1.8 m. Animals get none: a flock's sheep stand a
    # few metres apart, and a wider gate there swaps and merges them (the bench's
    # valley-meadow-night lost a sheep to a duplicate with 1.5 m); an animal starts no
    # overwatch, so a second hit on one costs little.
    person_length_m: float = 1.8
    animal_length_m: float = 0.0
    # A body the detector split in one frame (head and legs either side of a cool belt, a
    # glimpse through two gaps in the canopy) gives sightings within a body length (plus this
    # much: blob centroids and pixel error) of the piece that took the target in that frame:
    # they join it as fragments rather than start a target of their own. Both pieces come
    # from one pose, so pose error does not part them. A hot object split in two (engine and
    # exhaust) joins within `fragment_m`.
    fragment_margin_m: float = 0.5
    fragment_m: float = 2.5
    # A "hot object" whose warmest sighting is cooler than this (a stream or a wet meadow a
    # few degrees above frozen ground) stays a target - it still speaks against a body at
    # that place - but is not reported: it would only bury the people in the coordinator's
    # list. Cars' engines, fires and sun-heated rock and roofs are warmer.
    hot_object_min_c: float = 20.0
    correlated_floor: float = 0.5  # fused sigma >= this x the best sighting's sigma
    max_sightings_kept: int = 50
    min_hit_confidence: float = 0.35  # a target's combined confidence before it is a hit
    # Clutter (a CFAR-like prior): a person- or animal-sized warm patch among sun-heated
    # ground, rock and roofs is more likely one more of those than a body. Every
    # `clutter_halving` warm non-body targets (hot objects) within `clutter_radius_m` halve
    # a body's confidence, so a person by a car and a campfire still confirms on clear looks,
    # a patch in a field of sun flecks does not on two ambiguous ones.
    clutter_radius_m: float = 20.0
    clutter_halving: float = 2.0
    # Tentative ("unknown") sightings - a warm blob too small or faint to classify, such as a
    # person glimpsed through a gap in the canopy - never make a hit or decide its class,
    # but they corroborate a place: a body seen clearly once (at least this confident) and
    # as a warm blob at the same spot in another frame is confirmed.
    corroborated_min_confidence: float = 0.6
    max_body_length_m: float = 3.0  # cattle ~2.6 m; longer blobs never corroborate a body
    # Targets made only of tentative sightings are dropped once unseen this long: a frame may
    # hold dozens of unclassified blobs, and a pass over a spot takes seconds.
    tentative_keep_s: float = 60.0

    def __post_init__(self) -> None:
        if self.min_frames < 1:
            raise ValueError("min_frames must be at least 1")


@dataclass
class Target:
    id: str
    east_m: float
    north_m: float
    sigma_m: float
    sightings: list[Sighting] = field(default_factory=list)
    frames: set[tuple[int | None, int]] = field(default_factory=set)
    class_frames: dict[str, set[tuple[int | None, int]]] = field(default_factory=dict)
    votes: dict[str, float] = field(default_factory=dict)
    chip: tuple[float, bytes] | None = None
    confirmed: bool = False
    _w: float = 0.0
    _we: float = 0.0
    _wn: float = 0.0
    _n_total: int = 0

    def add(self, s: Sighting, east: float, north: float, chip: bytes | None, floor: float) -> None:
        w = 1.0 / max(s.uncertainty_m, 0.1) ** 2
        self._w += w
        self._we += w * east
        self._wn += w * north
        self.east_m, self.north_m = self._we / self._w, self._wn / self._w
        best = min([s.uncertainty_m] + [x.uncertainty_m for x in self.sightings])
        self.sigma_m = max(self._w**-0.5, floor * best)
        self.sightings.append(s)
        self._n_total += 1
        self.frames.add((s.vehicle_id, s.frame_id))
        self.class_frames.setdefault(s.target_class, set()).add((s.vehicle_id, s.frame_id))
        self.votes[s.target_class] = self.votes.get(s.target_class, 0.0) + max(s.confidence, 0.05)
        if chip is not None and (self.chip is None or s.confidence >= self.chip[0]):
            self.chip = (s.confidence, chip)

    @property
    def last_seen(self) -> float:
        return max(s.timestamp for s in self.sightings)

    @property
    def target_class(self) -> TargetClass:
        votes = {k: v for k, v in self.votes.items() if k != "unknown"} or self.votes
        return max(votes, key=votes.__getitem__)  # type: ignore[return-value]


class Confirmer:
    """Associates sightings into targets and confirms them; feed it frame by frame."""

    def __init__(self, config: ConfirmConfig | None = None) -> None:
        self.config = config or ConfirmConfig()
        self.targets: list[Target] = []
        self._origin: tuple[float, float] | None = None
        self._clutter: np.ndarray | None = None  # hot-object positions, rebuilt per call

    def add(
        self, sightings: Sequence[Sighting], chips: Sequence[bytes | None] | None = None
    ) -> list[Hit]:
        """Add one frame's sightings (or several frames'); returns the hits confirmed or
        updated by them."""
        if not sightings:
            return []
        cfg = self.config
        if self._origin is None:
            self._origin = (sightings[0].lat, sightings[0].lon)
        lat = np.array([s.lat for s in sightings])
        lon = np.array([s.lon for s in sightings])
        north, east = latlon_to_offset(*self._origin, lat, lon)
        sig = np.array([s.uncertainty_m for s in sightings])
        now = max(s.timestamp for s in sightings)
        self.targets = [
            t
            for t in self.targets
            if not (set(t.votes) == {"unknown"} and now - t.last_seen > cfg.tentative_keep_s)
        ]
        live = [t for t in self.targets if now - t.last_seen <= cfg.max_gap_s]
        pairs: list[tuple[int, int]] = []  # (sighting, target)
        if live:
            te = np.array([t.east_m for t in live])
            tn = np.array([t.north_m for t in live])
            ts = np.array([t.sigma_m for t in live])
            d = np.hypot(east[:, None] - te[None, :], north[:, None] - tn[None, :])
            # Plus a body length where either side is a body (a fragment seen as an
            # unclassified blob included): the looks place different parts of it.
            s_len = np.array([self._length(s.target_class) for s in sightings])
            t_len = np.array([self._length(t.target_class) for t in live])
            gate = np.clip(
                cfg.gate_sigma * np.hypot(sig[:, None], ts[None, :]), cfg.min_gate_m, cfg.max_gate_m
            ) + np.maximum(s_len[:, None], t_len[None, :])
            si, ti = np.nonzero(d <= gate)
            # Classified sightings claim their targets before unclassified blobs do, so a
            # tentative fragment never pushes the body itself into a target of its own. And
            # a body's sighting joins a target already holding a class before a tentative
            # one within the gate: a grass blob beside a body, left over in a frame where
            # the body took its target, must not then take the body's next sighting and
            # split it into two hits (pose bias between passes moves a body by metres).
            tentative = [sightings[i].target_class == "unknown" for i in si.tolist()]
            body = [sightings[i].target_class in ("person", "animal") for i in si.tolist()]
            glimpse = [set(t.votes) == {"unknown"} for t in live]
            keys = [_key(s) for s in sightings]
            rank = [(tent, is_body and glimpse[j]) for tent, is_body, j in zip(tentative, body, ti.tolist(), strict=True)]  # fmt: skip
            first = self._greedy(rank, d[si, ti], si, ti, keys, live)
            # The pieces of one frame share its pose error, so a pass's bias moves them all
            # alike: with two bodies a few metres apart, nearest-first would swap them
            # (and smear both hits towards each other). Rank again with the frame's shift -
            # the mean of its classified matches' offsets, which no swap among them changes
            # - taken out.
            shift: dict[tuple[int | None, int], list[tuple[float, float]]] = {}
            for i, j in first:
                if not _tentative(sightings[i]):
                    off = (float(east[i] - te[j]), float(north[i] - tn[j]))
                    shift.setdefault(keys[i], []).append(off)
            de = np.array([np.mean([o[0] for o in shift[k]]) if len(shift.get(k, ())) > 1 else 0.0 for k in keys])  # fmt: skip
            dn = np.array([np.mean([o[1] for o in shift[k]]) if len(shift.get(k, ())) > 1 else 0.0 for k in keys])  # fmt: skip
            d2 = np.hypot(east[si] - de[si] - te[ti], north[si] - dn[si] - tn[ti])
            pairs = self._greedy(rank, d2, si, ti, keys, live)
        used_s: set[int] = set()
        touched: dict[int, Target] = {}
        # Per frame, the pieces its sightings gave to targets: (east, north, class, target).
        pieces: dict[tuple[int | None, int], list[tuple[float, float, str, Target]]] = {}
        for i, j in pairs:
            target = live[j]
            used_s.add(i)
            target.add(
                sightings[i], east[i], north[i], chips[i] if chips else None, cfg.correlated_floor
            )
            touched[id(target)] = target
            pieces.setdefault(_key(sightings[i]), []).append(
                (float(east[i]), float(north[i]), sightings[i].target_class, target)
            )
        for i, s in enumerate(sightings):
            if i in used_s:
                continue
            body = self._fragment_of(s, east[i], north[i], pieces.get(_key(s), []))
            if body is not None:
                body.add(s, east[i], north[i], chips[i] if chips else None, cfg.correlated_floor)
                pieces[_key(s)].append((float(east[i]), float(north[i]), s.target_class, body))
                continue
            tid = (
                "hit-"
                + uuid.uuid5(
                    _NAMESPACE,
                    f"{s.vehicle_id}/{s.frame_id}/{s.timestamp!r}/{s.lat:.7f}/{s.lon:.7f}/{i}",
                ).hex[:12]
            )
            target = Target(tid, float(east[i]), float(north[i]), s.uncertainty_m)
            target.add(s, east[i], north[i], chips[i] if chips else None, cfg.correlated_floor)
            self.targets.append(target)
            touched[id(target)] = target
            pieces.setdefault(_key(s), []).append(
                (float(east[i]), float(north[i]), s.target_class, target)
            )
        out = []
        self._clutter = None
        for target in touched.values():
            # The class is confirmed, not just the place: a warm patch called a person once and
            # a hot object the next time is not a person seen twice.
            if (
                target.target_class != "unknown"
                and self._support(target) >= cfg.min_frames
                and not self._lukewarm(target)
            ):
                hit = self._hit(target)
                if target.confirmed or hit.confidence >= cfg.min_hit_confidence:
                    target.confirmed = True  # once confirmed, stays confirmed
                    out.append(hit)
        return out

    def _lukewarm(self, t: Target) -> bool:
        if t.target_class != "vehicle_or_hot_object":
            return False
        temps = [s.temp_c for s in t.sightings if s.temp_c is not None]
        return bool(temps) and max(temps) < self.config.hot_object_min_c

    @staticmethod
    def _greedy(
        rank: list[tuple[bool, bool]],
        dist: np.ndarray,
        si: np.ndarray,
        ti: np.ndarray,
        keys: list[tuple[int | None, int]],
        live: list[Target],
    ) -> list[tuple[int, int]]:
        """Gated (sighting, target) pairs taken best first - by `rank`, then distance - with
        one sighting per target per frame; returns the pairs taken."""
        order = sorted(
            (r, float(x), i, j)
            for r, x, i, j in zip(rank, dist.tolist(), si.tolist(), ti.tolist(), strict=True)
        )
        used: set[int] = set()
        taken: set[tuple[tuple[int | None, int], int]] = set()
        out = []
        for _, _, i, j in order:
            if i in used or keys[i] in live[j].frames or (keys[i], j) in taken:
                continue  # one sighting per target per frame
            used.add(i)
            taken.add((keys[i], j))
            out.append((i, j))
        return out

    def _length(self, cls: str) -> float:
        cfg = self.config
        return {"person": cfg.person_length_m, "animal": cfg.animal_length_m}.get(cls, 0.0)

    def _fragment_of(
        self, s: Sighting, east: float, north: float, pieces: list[tuple[float, float, str, Target]]
    ) -> Target | None:
        """The target this frame already fed that `s` is a fragment of, if any: measured to
        that frame's own pieces of it (one pose, so no pose error between them), never to the
        target's fused place, which carries other passes' pose errors."""
        near = []
        for k, (xe, xn, cls, t) in enumerate(pieces):
            body = max(self._length(s.target_class), self._length(cls))
            gate = body + self.config.fragment_margin_m if body else self.config.fragment_m
            d = math.hypot(east - xe, north - xn)
            if d <= gate:
                near.append((d, k, t))
        return min(near)[2] if near else None

    def _support(self, t: Target) -> int:
        """Frames that back the target's class: those that saw that class, and for a body
        seen clearly at least once, those that saw an unclassified warm blob there."""
        cls = t.target_class
        frames = t.class_frames.get(cls, set())
        if cls in ("person", "animal") and "unknown" in t.class_frames:
            best = max(s.confidence for s in t.sightings if s.target_class == cls)
            if best >= self.config.corroborated_min_confidence:
                # Only a blob that could be the body: a strip longer than any person or
                # animal at the same place (a stream bank, a hedge) is something else.
                frames = frames | {
                    (s.vehicle_id, s.frame_id)
                    for s in t.sightings
                    if s.target_class == "unknown"
                    and (s.size_m is None or not s.size_m[0] > self.config.max_body_length_m)
                }
        return len(frames)

    @property
    def hits(self) -> list[Hit]:
        self._clutter = None
        return [self._hit(t) for t in self.targets if t.confirmed]

    def _clutter_near(self, t: Target) -> int:
        """How many hot-object targets (other than `t`) lie within the clutter radius.

        Lukewarm ones do not count: a stream or a grass streak a few degrees above frozen
        ground (oblique views at night make many) is no body look-alike, unlike sun-heated
        rock and roofs.
        """
        if self._clutter is None:
            hot = [
                x
                for x in self.targets
                if x.target_class == "vehicle_or_hot_object" and not self._lukewarm(x)
            ]
            self._clutter = np.array([[x.east_m, x.north_m] for x in hot]).reshape(-1, 2)
        if not len(self._clutter):
            return 0
        d = np.hypot(self._clutter[:, 0] - t.east_m, self._clutter[:, 1] - t.north_m)
        return int(np.count_nonzero((d <= self.config.clutter_radius_m) & (d > 0.0)))

    def _hit(self, t: Target) -> Hit:
        assert self._origin is not None
        lat, lon = offset_to_latlon(*self._origin, t.north_m, t.east_m)
        cls = t.target_class
        same = [s.confidence for s in t.sightings if s.target_class == cls]
        # A tentative (unknown) look at the place neither backs nor contradicts the class.
        counted = [v for k, v in t.votes.items() if k != "unknown" or cls == "unknown"]
        share = t.votes[cls] / sum(counted)
        # Independent looks: the chance that all of them were wrong shrinks with each.
        confidence = (1.0 - float(np.prod([1.0 - 0.8 * c for c in same]))) * share
        if cls in ("person", "animal"):
            confidence /= 1.0 + self._clutter_near(t) / self.config.clutter_halving
        temps = [s.temp_c for s in t.sightings if s.temp_c is not None]
        kept = tuple(t.sightings[-self.config.max_sightings_kept :])
        return Hit(
            id=t.id,
            target_class=cls,
            confidence=round(confidence, 4),
            lat=float(lat),
            lon=float(lon),
            uncertainty_m=round(float(t.sigma_m), 2),
            first_seen=min(s.timestamp for s in t.sightings),
            last_seen=t.last_seen,
            sightings=kept,
            vehicle_ids=tuple(
                sorted({s.vehicle_id for s in t.sightings if s.vehicle_id is not None})
            ),
            chip_png=t.chip[1] if t.chip else None,
            temp_c=max(temps) if temps else None,
        )
