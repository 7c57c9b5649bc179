"""Generated garbage thrown at the CLI (#18): a command may refuse (one line, exit 2) or fail
at its job (exit 1), but never print a traceback, never succeed silently, and never write
outside the output folder (`out/` in its working folder).

One entry per command in `COMMANDS` (run in `make test`, in-process for speed) or in
`OTHER_COMMANDS` (commands owned elsewhere, run in a subprocess with a time limit when
`GROUNDCTL_FUZZ_OTHERS=1`: `GROUNDCTL_FUZZ_OTHERS=1 pytest tests/fuzz -k others -s`). An entry
is a function of a hypothesis `draw` and the sandbox folder that returns the argv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fuzzkit import HOSTILE_STRINGS, HOSTILE_TEXT, Run, _snapshot, budget, run_cli_in_process
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = str(ROOT / "configs" / "scenarios" / "ditch_rain_night.yaml")
SMALL_AREA = str(ROOT / "configs" / "areas" / "rectangle_1km2.geojson")
Entry = Callable[[Callable, Path], list[str]]


def sandbox_files(sandbox: Path) -> dict[str, str]:
    """Inputs a command may be pointed at: good, empty, binary, a folder, hostile JSON."""
    (sandbox / "in").mkdir(exist_ok=True)
    files = {
        "empty": "",
        "binary": "\x00\xff\xfe garbage \x89PNG",
        "json-list": "[1, 2, 3]",
        "deep": "[" * 5000 + "]" * 5000,
        "yaml-bomb": "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b, *b]\n",
        "nan": '{"type": "FeatureCollection", "features": [{"geometry": '
        '{"type": "Polygon", "coordinates": [[[NaN, 1], [2, 3], [4, 5], [NaN, 1]]]}}]}',
    }
    out = {}
    for name, text in files.items():
        path = sandbox / "in" / name
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        out[name] = str(path)
    out["folder"] = str(sandbox / "in")
    out["missing"] = str(sandbox / "in" / "no-such-file")
    return out


def bad(draw) -> bool:
    """One argument in four is garbage, so that most runs get past the first check and the
    garbage meets the code behind it."""
    return draw(st.integers(0, 3)) == 0


def input_path(draw, sandbox: Path, good: str) -> str:
    if not bad(draw):
        return good
    return draw(st.sampled_from([*sandbox_files(sandbox).values(), *HOSTILE_STRINGS[:12]]))


def output_path(draw, suffix: str) -> str:
    """Where a command is asked to write: fine, a folder, a missing parent, a device, a bad
    suffix, a hostile name; always inside out/ unless it is a path nothing can write."""
    if not bad(draw):
        return f"out/result{suffix}"
    return draw(
        st.sampled_from(
            [
                "out",
                "out/",
                f"out/no/such/folder/x{suffix}",
                "/dev/full",
                "/dev/null",
                "out/x.xyz",
                f"out/{'x' * 300}{suffix}",
                f"out/-{suffix}",
                f"out/\x1b[2J{suffix}",
            ]
        )
    )


def number_text(draw, good: str = "3") -> str:
    if not bad(draw):
        return good
    return draw(
        st.sampled_from(["0", "-1", "1e309", "nan", "inf", "-inf", "1e7", "abc", "", "3"])
        | st.floats(allow_nan=True).map(repr)
    )


def name(draw, good: str) -> str:
    return draw(HOSTILE_TEXT) if bad(draw) else good


def extra_args(draw) -> list[str]:
    return draw(
        st.lists(HOSTILE_TEXT | st.sampled_from(["--json", "--help", "-x", "--"]), max_size=2)
    )


# ---------------------------------------------------------------------- my commands


def configs_list(draw, sandbox: Path) -> list[str]:
    return ["configs", "list", *draw(st.lists(st.sampled_from(["--json"]), max_size=1)),
            *draw(st.lists(HOSTILE_TEXT, max_size=1))]  # fmt: skip


def configs_show(draw, sandbox: Path) -> list[str]:
    entry = name(draw, draw(st.sampled_from(["h20t", "mavic3t", "trinity_f90"])))
    user = sandbox / "user.yaml"
    user.write_text("cameras:\n  h20t:\n    frame_rate_hz: 8.7\n")
    config = draw(st.sampled_from([[], ["--config", input_path(draw, sandbox, str(user))]]))
    return [*config, "configs", "show", entry]


def sim_render(draw, sandbox: Path) -> list[str]:
    at = ",".join(number_text(draw, g) for g in ("31.6235", "120.4498", "50"))
    if bad(draw):
        at = draw(st.sampled_from(["", "1,2", "1,2,3,4", "91,0,50", "31.6,120.4,1e7"]))
    argv = ["sim", "render", "-s", input_path(draw, sandbox, SCENARIO), "--at", at,
            "-o", output_path(draw, ".png")]  # fmt: skip
    for option, good in (("--yaw", "30"), ("--gimbal-pitch", "-60"), ("--seed", "1")):
        if draw(st.booleans()):
            argv += [option, number_text(draw, good)]
    if draw(st.booleans()):
        argv += ["--camera", name(draw, "mavic3t")]
    if draw(st.booleans()):
        argv.append("--tiff")
    return argv


def sim_truth(draw, sandbox: Path) -> list[str]:
    argv = ["sim", "truth", "-s", input_path(draw, sandbox, SCENARIO),
            "-o", output_path(draw, ".geojson")]  # fmt: skip
    if draw(st.booleans()):
        argv += ["--area", output_path(draw, ".geojson")]
    return argv


def dispatch_ack(draw, sandbox: Path) -> list[str]:
    """`dispatch listen --ack` (listening without --ack would wait for hits forever)."""
    url = "mqtt://127.0.0.1:1"
    if bad(draw):
        url = draw(st.sampled_from(["mqtts://127.0.0.1:1", "http://x", "x", "", "mqtt://:0"]))
    ack = name(draw, "hit-1=found:note")
    if bad(draw):
        ack = draw(st.sampled_from(["hit-1=maybe", "=", "hit-1", "../x=found", "hit-1=f:\x00"]))
    argv = ["dispatch", "listen", "--mqtt", url, "--ack", ack, "--give-up-after", "1",
            "--operation", name(draw, "ridge")]  # fmt: skip
    if draw(st.booleans()):
        key = sandbox / "desk.key"
        key.write_text("k" * 40)
        argv += ["--ack-key", input_path(draw, sandbox, str(key)),
                 "--operator", name(draw, "desk-1")]  # fmt: skip
    return argv


def dispatch_flush(draw, sandbox: Path) -> list[str]:
    from groundctl.store import Store

    db = sandbox / "op.sqlite"
    Store.open(db, operation="ridge").close()
    config = sandbox / "dispatch.yaml"
    config.write_text(
        draw(
            st.sampled_from(
                [
                    "dispatch: {geojson_file: out/hits.geojson}\n",
                    "dispatch: {mqtt: {url: 'mqtt://127.0.0.1:1'}}\n",
                    "dispatch: {ack_keys: {desk: missing.key}}\n",
                    "dispatch: {geojson_file: out}\n",
                    "dispatch: [1, 2]\n",
                    "dispatch: {cot: [{url: 'udp://127.0.0.1:9'}]}\n",
                ]
            )
        )
    )
    argv = ["dispatch", "flush", "--db", input_path(draw, sandbox, str(db)), "--timeout", "1"]
    if draw(st.booleans()):
        argv += ["--dispatch-config", input_path(draw, sandbox, str(config))]
    if draw(st.booleans()):
        argv.append("--json")
    return argv


def dispatch_keygen(draw, sandbox: Path) -> list[str]:
    return ["dispatch", "keygen", output_path(draw, ".key"), "--desk", name(draw, "desk-1")]


COMMANDS: dict[str, tuple[Entry, int]] = {  # name -> (argv builder, examples in make test)
    "configs list": (configs_list, 6),
    "configs show": (configs_show, 12),
    "sim render": (sim_render, 14),
    "sim truth": (sim_truth, 10),
    "dispatch listen --ack": (dispatch_ack, 12),
    "dispatch flush": (dispatch_flush, 12),
    "dispatch keygen": (dispatch_keygen, 10),
}


# ---------------------------------------------------------------------- others' commands


def plan(draw, sandbox: Path) -> list[str]:
    argv = ["plan", input_path(draw, sandbox, SMALL_AREA), "--camera", name(draw, "h20t"),
            "-o", output_path(draw, ".json"), "--alt", number_text(draw, "60")]  # fmt: skip
    options = (("--overlap", "20"), ("--speed", "8"), ("--sweep-deg", "30"),
               ("--turn-margin", "10"), ("--max-alt", "120"), ("--drones", "2"))  # fmt: skip
    for option, good in options:
        if draw(st.booleans()):
            argv += [option, number_text(draw, good)]
    if draw(st.booleans()):
        argv += ["--preview", output_path(draw, ".png")]
    if draw(st.booleans()):
        argv += ["--export", name(draw, draw(st.sampled_from(["qgc", "kml", "geojson"])))]
    if draw(st.booleans()):
        argv += ["--launch", name(draw, "46.52,7.95")]
    return argv


def detect(draw, sandbox: Path) -> list[str]:
    frame = sandbox / "frame.png"
    if not frame.exists():
        import cv2
        import numpy as np

        cv2.imwrite(str(frame), (np.random.default_rng(1).random((64, 80)) * 255).astype("uint8"))
    argv = ["detect", input_path(draw, sandbox, str(frame))]
    if draw(st.booleans()):
        argv += ["-o", output_path(draw, ".geojson")]
    if draw(st.booleans()):
        argv += ["--annotate", output_path(draw, "")]
    if draw(st.booleans()):
        argv += ["--camera", name(draw, "h20t")]
    for option, good in (
        ("--scale-gain", "0.01"),
        ("--takeoff-amsl", "400"),
        ("--min-frames", "1"),
    ):
        if draw(st.booleans()):
            argv += [option, number_text(draw, good)]
    return argv


def fly(draw, sandbox: Path) -> list[str]:
    """Plans broken in one way or another, flown on one simulated drone."""
    plan = sandbox / "plan.json"
    if not plan.exists():
        subprocess.run(
            [sys.executable, "-m", "groundctl", "plan", SMALL_AREA, "--camera", "h20t",
             "--alt", "50", "-o", str(plan)],
            capture_output=True, check=True, timeout=300, cwd=sandbox,
        )  # fmt: skip
    doc = json.loads(plan.read_text())
    broken = draw(st.sampled_from(["segments", "nan", "text", "empty-object", "none"]))
    if broken == "segments":
        doc["segments"] = []
    elif broken == "nan":
        plan.write_text(json.dumps(doc).replace('"alt_rel_m": 50.0', '"alt_rel_m": NaN'))
    elif broken == "text":
        doc = {k: "x" for k in doc}
    elif broken == "empty-object":
        doc = {}
    if broken != "nan":
        plan.write_text(json.dumps(doc))
    argv = ["fly", input_path(draw, sandbox, str(plan)), "--on-exit", "rtl", "--sim", "1", "--operation", "fuzz",
            "--speedup", "20", "--db", output_path(draw, ".sqlite")]  # fmt: skip
    if draw(st.booleans()):
        argv += ["--connect", name(draw, draw(st.sampled_from(["udpin://x", "tcp:1.2.3.4:1"])))]
    if draw(st.booleans()):
        argv += ["--hits-geojson", output_path(draw, ".geojson")]
    return argv


def sim(draw, sandbox: Path) -> list[str]:
    argv = ["sim", "--vehicles", number_text(draw, "1"), "--home", name(draw, "47,8,400"),
            "--api-base-port", "0", "--gcs-port", "0", "--duration", "2"]  # fmt: skip
    for option, good in (("--speedup", "5"), ("--loss", "1"), ("--latency", "10"), ("--wind", "3")):
        if draw(st.booleans()):
            argv += [option, number_text(draw, good)]
    if draw(st.booleans()):
        argv += ["--scenario", input_path(draw, sandbox, SCENARIO), "--stream-base-port", "0"]
    return argv


OTHER_COMMANDS: dict[str, tuple[Entry, int]] = {
    "plan": (plan, 60),
    "detect": (detect, 40),
    "fly": (fly, 10),
    "sim": (sim, 25),
}


# ---------------------------------------------------------------------- the tests


def check(run: Run) -> None:
    problems = run.problems()
    assert not problems, (
        f"groundctl {' '.join(map(repr, run.argv))}: exit {run.code}\n" + "\n".join(problems)
    )
    assert run.code in (0, 1, 2, 130), f"exit {run.code}: {run.argv}"
    if run.code == 2:
        assert run.stderr.strip(), f"exit 2 says nothing: {run.argv}"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_cli_survives_garbage(name, tmp_path_factory):
    entry, examples = COMMANDS[name]

    @budget(examples)
    @given(data=st.data())
    def run(data):
        sandbox = tmp_path_factory.mktemp("fuzz")
        argv = entry(data.draw, sandbox)
        check(run_cli_in_process(argv, sandbox))

    run()


def run_cli_subprocess(argv: list[str], sandbox: Path, timeout_s: float = 60.0) -> Run | None:
    (sandbox / "out").mkdir(exist_ok=True)
    before = _snapshot(sandbox)
    env = {k: v for k, v in os.environ.items() if k != "GROUNDCTL_CONFIG"}
    env.update(HOME=str(sandbox), COLUMNS="80", GROUNDCTL_NO_STDIN="1")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "groundctl", *argv], capture_output=True, text=True,
            cwd=sandbox, env=env, timeout=timeout_s, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None  # still working (a simulator, a flight): not what this looks for
    stray = sorted(_snapshot(sandbox) - before)
    return Run(argv, proc.returncode, proc.stdout, proc.stderr, None, stray)


@pytest.mark.skipif(
    os.environ.get("GROUNDCTL_FUZZ_OTHERS") != "1",
    reason="commands owned elsewhere: GROUNDCTL_FUZZ_OTHERS=1 to hunt in them",
)
@pytest.mark.parametrize("name", sorted(OTHER_COMMANDS))
def test_others_survive_garbage(name, tmp_path_factory):
    """Collects every problem (does not stop at the first) and writes them as JSON lines to
    $GROUNDCTL_FUZZ_REPORT (default: fuzz-findings.jsonl in the current folder)."""
    entry, examples = OTHER_COMMANDS[name]
    findings: list[dict] = []

    @budget(examples)
    @given(data=st.data())
    def run(data):
        sandbox = tmp_path_factory.mktemp("fuzz")
        argv = entry(data.draw, sandbox)
        result = run_cli_subprocess(argv, sandbox)
        if result is not None and (result.problems() or result.code not in (0, 1, 2, 130)):
            last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            findings.append({"command": name, "argv": argv, "code": result.code, "last": last,
                             "problems": [p.splitlines()[0] for p in result.problems()]})  # fmt: skip

    run()
    report = Path(os.environ.get("GROUNDCTL_FUZZ_REPORT", "fuzz-findings.jsonl"))
    with report.open("a", encoding="utf-8") as fh:
        for f in findings:
            fh.write(json.dumps(f) + "\n")
    print(f"{name}: {len(findings)} problem run(s) written to {report}")
