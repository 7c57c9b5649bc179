import re

from groundctl import __version__


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
