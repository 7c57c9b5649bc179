"""What every fuzz test shares: a bounded, repeatable hypothesis budget, hostile values, and
an in-process CLI runner that sees tracebacks, empty successes and stray files.

Budget: `make test` runs the whole fuzz suite in well under two minutes (about 40 s here;
derandomized, so a failure reproduces; no example database). `GROUNDCTL_FUZZ_EXAMPLES=N` multiplies the number
of examples for a longer hunt.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

SCALE = max(1, int(os.environ.get("GROUNDCTL_FUZZ_EXAMPLES", "1")))


def budget(examples: int) -> settings:
    """Settings for one fuzz test: `examples` examples (times GROUNDCTL_FUZZ_EXAMPLES). A
    failure is reported as found, not shrunk (shrinking a CLI run can take many minutes);
    GROUNDCTL_FUZZ_SHRINK=1 shrinks it to a minimal example."""
    phases = [Phase.explicit, Phase.reuse, Phase.generate]
    if os.environ.get("GROUNDCTL_FUZZ_SHRINK") == "1":
        phases.append(Phase.shrink)
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        derandomize=True,
        database=None,
        phases=phases,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        print_blob=True,
    )


# ---------------------------------------------------------------------- hostile values

HOSTILE_STRINGS = [
    "",
    " ",
    "..",
    ".",
    "../../x",
    "/tmp/pwn",
    "a/b",
    "C:\\x",
    "+",
    "#",
    "\x00",
    "\x1b[2J\x1b[H",
    "[bold red]x[/]",
    "[/]",
    "%s%n",
    "{hit_id}",
    "NaN",
    "-1",
    "1e309",
    "😀",
    "x" * 10_000,
    "hit-0001",
    "ridge",
    "person",
]
HOSTILE_TEXT = st.sampled_from(HOSTILE_STRINGS)
HOSTILE_NUMBER = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 255, 256, 2**31, 2**63, -0.0, 1e308, float("nan")]),
)
SCALAR = st.one_of(st.none(), st.booleans(), HOSTILE_NUMBER, HOSTILE_TEXT, st.text(max_size=40))
JSON = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def hostile_doc(keys: list[str]) -> st.SearchStrategy[dict]:
    """A JSON object with (some of) the keys a parser expects, each holding anything."""
    value = st.one_of(SCALAR, JSON)
    return st.fixed_dictionaries({}, optional={k: value for k in keys}).flatmap(
        lambda d: st.dictionaries(st.text(max_size=6), SCALAR, max_size=2).map(
            lambda extra: {**extra, **d}
        )
    )


# ---------------------------------------------------------------------- CLI runner


@dataclass
class Run:
    argv: list[str]
    code: int
    stdout: str
    stderr: str
    traceback: str | None
    stray: list[str]  # files that appeared outside the output folder

    def problems(self) -> list[str]:
        out = []
        if self.traceback is not None:
            out.append(f"traceback:\n{self.traceback}")
        if "Traceback (most recent call last)" in self.stderr + self.stdout:
            out.append(f"traceback printed:\n{self.stderr[-2000:]}")
        if self.code == 0 and not (self.stdout.strip() or self.stderr.strip()):
            out.append("exit 0 with no output")
        if self.stray:
            out.append(f"files written outside the output folder: {self.stray}")
        return out


def _snapshot(root: Path) -> set[str]:
    found = set()
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        if rel == "out" or rel.startswith("out" + os.sep):
            continue
        for name in [*files, *dirs]:
            found.add(os.path.normpath(os.path.join(rel, name)))
    return found


def run_cli_in_process(argv: list[str], sandbox: Path) -> Run:
    """Run `groundctl ARGV` in this process with `sandbox` as the working folder and HOME;
    the command may write under `sandbox/out` only."""
    from groundctl.cli import main

    (sandbox / "out").mkdir(parents=True, exist_ok=True)
    before = _snapshot(sandbox)
    out, err = io.StringIO(), io.StringIO()
    code, trace = 0, None
    cwd, env = os.getcwd(), dict(os.environ)
    os.chdir(sandbox)
    os.environ.update(HOME=str(sandbox), COLUMNS="80", GROUNDCTL_NO_STDIN="1")
    os.environ.pop("GROUNDCTL_CONFIG", None)
    stdin = sys.stdin
    sys.stdin = io.StringIO("")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        code, trace = -1, traceback.format_exc()
    finally:
        sys.stdin = stdin
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
    stray = sorted(_snapshot(sandbox) - before)
    return Run(argv, code, out.getvalue(), err.getvalue(), trace, stray)
