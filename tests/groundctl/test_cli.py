import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from groundctl import __version__, config
from groundctl.cli.output import (
    Column,
    OutputPathError,
    Table,
    check_output_path,
    fit,
    plain_lines,
)


def test_version(run_cli):
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"groundctl {__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", __version__)


def test_configs_list_shows_both_catalogues(run_cli):
    result = run_cli("configs", "list")
    assert result.returncode == 0, result.stderr
    assert "Cameras" in result.stdout and "Airframes" in result.stdout
    assert "h20t" in result.stdout and "trinity_f90" in result.stdout


def test_configs_show_prints_yaml_of_every_match(run_cli):
    result = run_cli("configs", "show", "mavic3t")
    assert result.returncode == 0, result.stderr
    # The name is both a camera and an airframe: both are shown.
    assert "cameras:\n  mavic3t:" in result.stdout
    assert "airframes:\n  mavic3t:" in result.stdout
    assert "endurance_min: 38.0" in result.stdout


def test_bad_config_exits_2_with_one_line_and_no_traceback(run_cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("cameras:\n  h20t:\n    hfov_deg: 400\n")
    result = run_cli("--config", str(bad), "configs", "list")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(bad) in lines[0] and "cameras.h20t.hfov_deg" in lines[0]
    assert "less than 180" in lines[0]


def test_config_from_environment_variable(run_cli, tmp_path):
    bad = tmp_path / "env.yaml"
    bad.write_text("airframes:\n  mavic3t:\n    endurance_min: 0\n")
    result = run_cli("configs", "show", "mavic3t", env={"GROUNDCTL_CONFIG": str(bad)})
    assert result.returncode == 2
    assert "airframes.mavic3t.endurance_min" in result.stderr


def test_unknown_name_exits_2(run_cli):
    result = run_cli("configs", "show", "nothing")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "known:" in result.stderr


def test_usage_error_exits_2(run_cli):
    result = run_cli("configs", "frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------- output (#17)

SCENARIO = Path(__file__).resolve().parents[2] / "configs" / "scenarios" / "ditch_rain_night.yaml"
BOX = set("─│┃━┏┓┗┛╭╮╰╯")


def names() -> list[str]:
    return [*config.catalog("cameras"), *config.catalog("airframes")]


def run_on_terminal(tmp_path, *args: str, columns: int = 80) -> str:
    """Run the CLI with stdout on a pseudo-terminal `columns` wide; returns what it showed."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "GROUNDCTL_CONFIG"}
    env.update(HOME=str(tmp_path), COLUMNS=str(columns), LINES="60", TERM="xterm")
    proc = subprocess.Popen(
        [sys.executable, "-m", "groundctl", *args], stdout=slave, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, env=env, cwd=tmp_path,
    )  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    proc.stderr.close()
    text = b"".join(chunks).decode()
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "")


def test_configs_list_through_a_pipe_is_plain_with_every_name_whole(run_cli):
    result = run_cli("configs", "list", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert not BOX & set(result.stdout)
    rows = [line.split("  ")[0] for line in result.stdout.splitlines()]
    for name in names():
        assert name in rows, f"{name} not whole at the start of a row"
    # every column of every row is there (a script reads the frame rate too)
    mavic = next(line for line in result.stdout.splitlines() if line.startswith("mavic3t "))
    assert "DJI Mavic 3T (thermal)" in mavic and "8.35 mm" in mavic and mavic.endswith("30")


@pytest.mark.parametrize("columns", [80, 40])
def test_configs_list_on_a_narrow_terminal_drops_columns_never_cuts_names(tmp_path, columns):
    shown = run_on_terminal(tmp_path, "configs", "list", columns=columns)
    lines = shown.splitlines()
    assert max(len(line) for line in lines) <= columns
    tokens = {line.split()[0] for line in lines if line.strip()}
    for name in names():
        assert name in tokens, f"{name} cut at {columns} columns:\n{shown}"
    assert "…" not in shown
    assert "not shown for lack of width" in shown


def test_configs_list_json_is_one_document_with_every_entry(run_cli):
    result = run_cli("configs", "list", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == "groundctl.configs/1"
    assert [c["name"] for c in doc["cameras"]] == list(config.catalog("cameras"))
    assert [a["name"] for a in doc["airframes"]] == list(config.catalog("airframes"))
    h20t = next(c for c in doc["cameras"] if c["name"] == "h20t")
    assert h20t["focal_length_mm"] == 13.5 and h20t["radiometric"] is True


def test_table_fitting_drops_least_important_first_and_folds_keys_last():
    table = Table(
        None,
        [
            Column("url", key=True),
            Column("a", priority=1),
            Column("b", priority=3),
            Column("c", priority=2),
        ],
    )
    table.add_row("udpout://127.0.0.1:14550", "x" * 10, "y" * 10, "z" * 10)
    _, dropped = fit(table, 50)
    assert dropped == ["b"]
    _, dropped = fit(table, 30)
    assert dropped == ["b", "c", "a"]
    assert plain_lines(table)[1].split() == [
        "udpout://127.0.0.1:14550",
        "x" * 10,
        "y" * 10,
        "z" * 10,
    ]


def bad_output_paths(tmp_path) -> dict[str, Path]:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    # root ignores permission bits: there a path the kernel itself refuses stands in
    unwritable = Path("/sys/groundctl-test.png") if os.geteuid() == 0 else locked / "x.png"
    return {
        "folder": folder,
        "missing parent": tmp_path / "no" / "such" / "x.png",
        "device": Path("/dev/full"),
        "no permission": unwritable,
    }


def test_check_output_path_refuses_each_bad_path_in_one_line(tmp_path):
    for what, path in bad_output_paths(tmp_path).items():
        with pytest.raises(OutputPathError) as err:
            check_output_path(path, "-o")
        text = str(err.value)
        assert text.startswith(f"-o {path}: ") and "\n" not in text, what
    # a disk with less free space than asked counts as full
    with pytest.raises(OutputPathError, match="the disk is full"):
        check_output_path(tmp_path / "x.png", "-o", min_free_bytes=1 << 62)
    with pytest.raises(OutputPathError, match=r"unknown file type \('.xyz'\)"):
        check_output_path(tmp_path / "r.xyz", "-o", suffixes=(".png",))
    assert check_output_path(tmp_path / "ok.png", "-o", suffixes=(".png",)) == tmp_path / "ok.png"
    assert not (tmp_path / "ok.png").exists()  # checked, not written
    made = check_output_path(tmp_path / "new" / "x.png", "-o", create_parents=True)
    assert made.parent.is_dir()


def test_sim_render_and_truth_bad_outputs_exit_2_in_one_line(run_cli, tmp_path):
    paths = bad_output_paths(tmp_path)
    del paths["missing parent"]  # sim render / truth make missing folders, as before
    for what, path in paths.items():
        for args in (
            ("sim", "render", "-s", str(SCENARIO), "--at", "31.6235,120.4498,50", "-o", str(path)),
            ("sim", "truth", "-s", str(SCENARIO), "-o", str(path)),
        ):
            result = run_cli(*args)
            lines = result.stderr.strip().splitlines()
            assert result.returncode == 2 and len(lines) == 1, (what, args, result.stderr)
            assert str(path) in lines[0] and "Traceback" not in result.stderr
    result = run_cli("sim", "render", "-s", str(SCENARIO), "--at", "31.6,120.4,50", "-o", "r.xyz")
    assert result.returncode == 2 and "unknown file type ('.xyz')" in result.stderr


@pytest.mark.parametrize(
    ("at", "message"),
    [
        ("31.6235,120.4498,1e7", "at most 5000 m"),
        ("31.6235,120.4498,nan", "must be above the ground"),
        ("nan,120.4498,50", "is not a WGS84 position"),
    ],
)
def test_sim_render_out_of_range_position_is_refused(run_cli, tmp_path, at, message):
    result = run_cli("sim", "render", "-s", str(SCENARIO), "--at", at, "-o", "r.png")
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.png").exists()


PROGRESS = """
import time
from groundctl.cli.output import progress
with progress("working", total=20, unit="frames") as advance:
    for _ in range(20):
        time.sleep(0.05)
        advance(1)
print("finished")
"""


def test_progress_shows_rate_and_eta_on_a_terminal_and_nothing_elsewhere(tmp_path):
    piped = subprocess.run(
        [sys.executable, "-c", PROGRESS], capture_output=True, text=True, timeout=60
    )
    assert piped.returncode == 0 and piped.stdout == "finished\n" and piped.stderr == ""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-c", PROGRESS], stdout=subprocess.PIPE, stderr=slave, env=env
    )
    os.close(slave)
    shown = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        shown += data
    os.close(master)
    assert proc.wait(timeout=60) == 0 and proc.stdout.read() == b"finished\n"
    proc.stdout.close()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode())
    assert "working" in text and "/20" in text and "frames/s" in text
    assert re.search(r"\d+:\d\d:\d\d", text)  # the time remaining
