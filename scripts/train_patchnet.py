"""Train the relative-mode person classifier (`thermal/models/patchnet.onnx`) on HIT-UAV.

    python scripts/train_patchnet.py ../shared/datasets/hit-uav [--epochs 8] [--out DIR]

Needs PyTorch (the CPU build is enough: `pip install torch==2.13.0 onnx`), which groundctl
itself does not: at run time OpenCV's DNN module runs the exported ONNX file. Uses the
`train` split ONLY (the benchmark measures `val`): 85 % of its images to fit, the other 15 %
to choose the decision threshold. Samples are the candidate peaks of `thermal.peaks` --
exactly what the model sees in the field -- labelled by the dataset's boxes: person,
vehicle (Car, OtherVehicle) or background; peaks on Bicycle / DontCare boxes are left out.

HIT-UAV: Suo et al., "HIT-UAV: A high-altitude infrared thermal dataset for Unmanned
Aerial Vehicle-based object detection", Scientific Data 10, 227 (2023), CC BY 4.0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hituav import gsd_m, pose_from_name, voc_boxes  # noqa: E402
from thermal.peaks import PATCH_CHANNELS, PATCH_PX, find_peaks, patches  # noqa: E402

CLASS_OF = {"Person": 1, "Car": 2, "OtherVehicle": 2, "Bicycle": -1, "DontCare": -1}
BACKGROUND_SHARE = 5
TARGET_FALSE_PER_IMAGE = 1.0  # the threshold is the lowest that stays under this on holdout


def build_model(nn):
    """Three 3x3 conv stages and a linear head: about 7 k weights and 0.7 M multiply-adds
    per patch, so a frame's few hundred peaks cost milliseconds on one core."""
    return nn.Sequential(
        nn.Conv2d(PATCH_CHANNELS, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(32, 3),
    )  # fmt: skip


def label_peaks(xs: np.ndarray, ys: np.ndarray, boxes: list) -> tuple[np.ndarray, np.ndarray]:
    """Per peak: class (1 person, 2 vehicle, 0 background, -1 ignore) and the index of the
    person box it lies in (-1 if none). Persons win over vehicles: a person beside a car."""
    cls = np.zeros(len(xs), np.int64)
    box_id = np.full(len(xs), -1, np.int64)
    for name in ("Person", "Car", "OtherVehicle", "Bicycle", "DontCare"):
        for i, (n, (x0, y0, x1, y1)) in enumerate(boxes):
            if n == name:
                inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1) & (cls == 0)
                cls[inside] = CLASS_OF[name]
                if name == "Person":
                    box_id[inside] = i
    return cls, box_id


def samples(folder: Path, stems: list[str]) -> dict[str, np.ndarray]:
    """Patches and labels of every candidate peak of the given images."""
    out: dict[str, list[np.ndarray]] = {"x": [], "y": [], "img": [], "box": []}
    persons = []
    for i, stem in enumerate(stems):
        img = cv2.imread(str(folder / "images" / f"{stem}.jpg"), cv2.IMREAD_GRAYSCALE)
        if img is None:
            continue
        pixels = img.astype(np.float32)
        _, pose = pose_from_name(stem)
        peaks = find_peaks(pixels, float(gsd_m(pose, np.array([320.0]), np.array([256.0]))[0]))
        boxes = voc_boxes(folder / "annotations" / f"{stem}.xml")
        persons.append(sum(n == "Person" for n, _ in boxes))
        cls, box = label_peaks(peaks.x, peaks.y, boxes)
        keep = cls >= 0
        x, y = peaks.x[keep], peaks.y[keep]
        px = patches(pixels, x, y, gsd_m(pose, x.astype(float), y.astype(float)))
        out["x"].append(px.astype(np.float16))  # halves the memory of 600 k samples
        out["y"].append(cls[keep])
        out["img"].append(np.full(int(keep.sum()), i))
        out["box"].append(box[keep])
    res = {k: np.concatenate(v) for k, v in out.items()}
    res["persons"] = np.array(persons)
    return res


def rates(p_person: np.ndarray, s: dict[str, np.ndarray], threshold: float) -> tuple[float, float]:
    """(person recall over boxes, false peaks per image) when P(person) >= threshold."""
    called = p_person >= threshold
    found = {(i, b) for i, b, c in zip(s["img"], s["box"], called, strict=True) if c and b >= 0}
    recall = len(found) / max(int(s["persons"].sum()), 1)
    return recall, float((called & (s["y"] == 0)).sum()) / max(len(s["persons"]), 1)


def person_probability(torch, net, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([
            torch.softmax(net(torch.from_numpy(x[i : i + 8192]).float()), 1)[:, 1].numpy()
            for i in range(0, len(x), 8192)
        ])  # fmt: skip


def main() -> None:
    import torch
    from torch import nn

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--out", type=Path, default=ROOT / "thermal" / "models")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, help="keep extracted samples in this .npz")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    torch.set_num_threads(2)

    t0 = time.perf_counter()
    stems = (args.folder / "train.txt").read_text().split()
    holdout = set(stems[::7])
    if args.cache and args.cache.exists():
        z = np.load(args.cache)
        fit = {k[4:]: z[k] for k in z.files if k.startswith("fit_")}
        hold = {k[5:]: z[k] for k in z.files if k.startswith("hold_")}
    else:
        fit = samples(args.folder, [s for s in stems if s not in holdout])
        hold = samples(args.folder, sorted(holdout))
        if args.cache:
            np.savez(args.cache, **{f"fit_{k}": v for k, v in fit.items()},
                     **{f"hold_{k}": v for k, v in hold.items()})  # fmt: skip
    x, y = fit["x"], fit["y"]
    print(f"{len(y)} fit samples ({np.bincount(y).tolist()} background/person/vehicle), "
          f"{len(hold['y'])} holdout, in {time.perf_counter() - t0:.0f} s")  # fmt: skip

    net = build_model(nn)
    # Background outnumbers people 50:1. Each epoch sees every person and vehicle and a
    # fifth of the background; the loss weights the rest of the imbalance.
    bg, fg = np.flatnonzero(y == 0), np.flatnonzero(y != 0)
    per_epoch = len(fg) + len(bg) // BACKGROUND_SHARE
    counts = np.bincount(y, minlength=3).astype(np.float64)
    counts[0] /= BACKGROUND_SHARE
    weight = torch.tensor((counts.sum() / (3 * counts)) ** 0.5, dtype=torch.float32)
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    batch = 256
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = args.epochs * ((per_epoch + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for epoch in range(args.epochs):
        net.train()
        n_bg = len(bg) // BACKGROUND_SHARE
        if epoch == 0:
            negatives = rng.choice(bg, n_bg, replace=False)
        elif epoch % 2 == 0:  # scoring all the background costs half an epoch
            # Hard negatives: half the background quota is what the model now finds most
            # person-like (lamps, kerb stones, hot car parts), half is drawn at random.
            p_bg = person_probability(torch, net, x[bg])
            hard = bg[np.argpartition(-p_bg, n_bg // 2)[: n_bg // 2]]
            rest = np.setdiff1d(bg, hard, assume_unique=True)
            negatives = np.concatenate([hard, rng.choice(rest, n_bg - len(hard), replace=False)])
        chosen = np.concatenate([fg, negatives])
        order = torch.from_numpy(rng.permutation(chosen))
        total = 0.0
        for b in range(0, len(order), batch):
            idx = order[b : b + batch]
            xb = xt[idx].float()
            # Seen from above a body has no "up": the 8 rotations and flips are alike.
            xb = torch.rot90(xb, int(rng.integers(4)), (2, 3))
            if rng.random() < 0.5:
                xb = torch.flip(xb, (3,))
            # AGC gain and offset differ from scene to scene.
            gain = torch.empty(len(idx), 1, 1, 1).uniform_(0.8, 1.25)
            shift = torch.empty(len(idx), 1, 1, 1).uniform_(-0.15, 0.15)
            xb = torch.cat([xb[:, :2] * gain, xb[:, 2:] + shift], 1)
            opt.zero_grad()
            loss = loss_fn(net(xb), yt[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        net.eval()
        p = person_probability(torch, net, hold["x"])
        r = [rates(p, hold, t) for t in (0.5, 0.8, 0.95)]
        print(f"epoch {epoch + 1}: loss {total / len(order):.4f}  holdout recall/false at "
              + "  ".join(f"{t}: {a:.3f}/{f:.2f}" for t, (a, f) in zip((0.5, 0.8, 0.95), r, strict=True)),
              flush=True)  # fmt: skip

    grid = np.linspace(0.05, 0.995, 190)
    table = [(t, *rates(p, hold, t)) for t in grid]
    ok = [row for row in table if row[2] <= TARGET_FALSE_PER_IMAGE]
    threshold, recall, false = min(ok, key=lambda r: r[0]) if ok else table[-1]
    print(
        f"threshold {threshold:.3f}: holdout person recall {recall:.3f}, "
        f"{false:.2f} false peaks per image"
    )

    args.out.mkdir(parents=True, exist_ok=True)
    dest = args.out / "patchnet.onnx"
    torch.onnx.export(
        net, (torch.zeros(1, PATCH_CHANNELS, PATCH_PX, PATCH_PX),), str(dest),
        input_names=["patch"], output_names=["logits"],
        dynamic_axes={"patch": {0: "n"}, "logits": {0: "n"}}, opset_version=13, dynamo=False,
    )  # fmt: skip
    meta = {
        "classes": ["background", "person", "vehicle"],
        "person_threshold": round(float(threshold), 3),
        "holdout": {"person_recall": round(recall, 3), "false_peaks_per_image": round(false, 2)},
        "trained_on": "HIT-UAV train split (Suo et al., Sci. Data 10, 227, 2023; CC BY 4.0)",
        "epochs": args.epochs,
        "seed": args.seed,
    }
    (args.out / "patchnet.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {dest} ({dest.stat().st_size} bytes) in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
