"""``make mutation``: plant one-line bugs in the money code, one at a time, and count how many the
unit and integration suites catch (mutmut 3, configured in ``pyproject.toml``).

    python -m mutation                 # run (incremental: only changed functions and new tests)
    python -m mutation --report        # summarise the last run, no run
    python -m mutation NAME ...        # run only these mutants
    python -m mutation --resume        # carry on with an interrupted run

A survivor judged *equivalent* (no caller could ever tell it from the original) is listed in
``mutation/equivalent/<area>.toml`` with its diff (a literal string, ``'''...'''``) and the reason; the kill rate leaves those
out, and a verdict whose mutant's diff has changed no longer counts. The
summary goes to ``mutation/results.json`` and the table in ``docs/engineers/test-strength.md``."""

from __future__ import annotations

import json
import math
import re
import sys
import time
import tomllib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = ROOT / "mutation" / "equivalent"
RESULTS = ROOT / "mutation" / "results.json"
README = ROOT / "docs" / "engineers" / "test-strength.md"
START, END = "<!-- mutation:start -->", "<!-- mutation:end -->"


KILLED = (1, 3, 37)          # mutmut's exit codes for a mutant the tests (or the type checker) caught
# A mutant under which the tests never finish is caught too (CI's time limit stops the suite), as
# most mutation tools count it; the table says how many were caught that way.
DETECTED = ("killed", "caught by type check", "timeout")


def retest_survivors() -> int:
    """mutmut keeps every verdict of the last run; a survivor not judged equivalent is run again,
    since tests added since may now catch it. Returns how many."""
    judged = set()
    for verdicts in EQUIVALENT.glob("*.toml"):
        judged |= set(tomllib.loads(verdicts.read_text()))
    count = 0
    for meta in Path("mutants").glob("**/*.py.meta"):
        data = json.loads(meta.read_text())
        codes = data["exit_code_by_key"]
        again = [k for k, v in codes.items() if v is not None and v not in KILLED and k not in judged]
        for k in again:
            codes[k] = None
        if again:
            meta.write_text(json.dumps(data, indent=4))
            count += len(again)
    return count


def _fastest_first() -> None:
    """A mutant's tests run quickest first, so that a kill (``-x``) seldom waits for a state
    machine; mutmut hands them over in no order."""
    from mutmut.runners.harness import PytestRunner
    from mutmut.state import state
    regular = PytestRunner._pytest_args_regular_run

    def ordered(self: PytestRunner, tests: Any) -> list[str]:
        took = state().duration_by_test
        return regular(self, sorted(tests, key=lambda t: (took.get(t, 0.0), t)) if tests else tests)
    PytestRunner._pytest_args_regular_run = ordered  # type: ignore[method-assign]


def run(names: list[str], resume: bool) -> float:
    """Run mutmut with our operators; returns the seconds it took. ``resume``: carry on with an
    interrupted run (survivors stand)."""
    if not names and not resume:
        print(f"retesting {retest_survivors()} survivors of the last run")
    _fastest_first()
    from mutmut.mutation import file_mutation

    from mutation.operators import OPERATORS
    file_mutation.mutation_operators = OPERATORS        # forked generators inherit this
    from mutmut.__main__ import cli
    started = time.monotonic()
    try:
        cli(["run", "--max-children", "2", *names], standalone_mode=False)
    except SystemExit as stop:
        if stop.code:
            raise
    return time.monotonic() - started


def _diff(name: str, path: Path) -> str:
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    lines = get_diff_for_mutant(name, path=path).splitlines()
    return "\n".join(x for x in lines if x[:1] in "+-" and not x.startswith(("+++", "---")))


def collect() -> list[dict[str, Any]]:
    """Every mutant of the last run: its name, package, status and (for survivors) diff."""
    from mutmut.__main__ import walk_mutatable_files
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.stats import status_by_exit_code
    out = []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        package = path.parts[1] if len(path.parts) > 2 else path.stem
        for name, code in data.exit_code_by_key.items():
            status = status_by_exit_code[code]
            row = {"name": name, "package": package, "file": str(path), "status": status}
            if status not in ("killed", "caught by type check", "not checked"):
                row["diff"] = _diff(name, path)
            out.append(row)
    return out


def _normal(diff: str) -> str:
    return re.sub(r"\s+", " ", diff).strip()


def summarise(mutants: list[dict[str, Any]], seconds: float | None) -> dict[str, Any]:
    """Per package: mutants, killed, judged equivalent, survived, not run yet; the kill rate is of
    the non-equivalent mutants run. What is left alive is listed with its diff."""
    judged: dict[str, dict[str, str]] = {}
    for verdicts in sorted(EQUIVALENT.glob("*.toml")):
        judged.update(tomllib.loads(verdicts.read_text()))
    per: dict[str, Counter[str]] = defaultdict(Counter)
    alive, stale = [], []
    for m in mutants:
        c = per[m["package"]]
        c["total"] += 1
        if m["status"] in DETECTED:
            c["killed"] += 1
            c["timed_out"] += m["status"] == "timeout"
            continue
        verdict = judged.get(m["name"])
        if verdict and "diff" not in m:
            m["diff"] = _diff(m["name"], Path(m["file"]))
        if verdict and _normal(verdict["diff"]) == _normal(m["diff"]):
            c["equivalent"] += 1
            continue
        if verdict:
            stale.append(m["name"])
        if m["status"] == "not checked":
            c["not_run"] += 1
            continue
        c["alive"] += 1
        alive.append({k: m[k] for k in ("name", "status", "diff")})
    total = Counter[str]()
    for c in per.values():
        total.update(c)
    return {"packages": {p: _rated(c) for p, c in sorted(per.items())}, "all": _rated(total),
            "seconds": round(seconds) if seconds is not None else None, "alive": alive, "stale_verdicts": stale}


def _rated(c: Counter[str]) -> dict[str, Any]:
    counted = c["killed"] + c["alive"]
    return {k: c[k] for k in ("total", "killed", "timed_out", "equivalent", "alive", "not_run")} | {
        # truncated, not rounded: one survivor in 2,000 reads 99.9%, never 100%
        "rate": math.floor(1000 * c["killed"] / counted) / 10 if counted else None}


def table(s: dict[str, Any]) -> str:
    """The table of docs/engineers/test-strength.md."""
    lines = ["| package | mutants | killed | judged equivalent | survived | not run yet | kill rate |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for package, r in [*s["packages"].items(), ("**all**", s["all"])]:
        name = package if package.startswith("*") else f"`{package}`"
        rate = "–" if r["rate"] is None else f"{r['rate']}%"
        lines.append(f"| {name} | {r['total']} | {r['killed']} | {r['equivalent']} | {r['alive']} | "
                     f"{r['not_run']} | {rate} |")
    lines.append("\nThe kill rate is of the mutants run, less those judged equivalent; "
                 f"{s['all']['timed_out']} of the killed made the tests run past mutmut's time limit.")
    if s["seconds"]:
        lines.append(f"The last run took {s['seconds'] // 60} min on 2 cores.")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    unknown = [a for a in argv if a.startswith("-") and a not in ("--report", "--resume")]
    if unknown:
        print(__doc__)
        return 0 if set(unknown) <= {"-h", "--help"} else 2
    names = [a for a in argv if not a.startswith("-")]
    seconds = json.loads(RESULTS.read_text()).get("seconds") if RESULTS.exists() else None
    if "--report" not in argv:
        took = run(names, "--resume" in argv)
        seconds = seconds if names else took        # the table gives the time of a whole run
    s = summarise(collect(), seconds)
    RESULTS.write_text(json.dumps(s, indent=1, ensure_ascii=False) + "\n")
    text = README.read_text()
    if START in text:
        head, rest = text.split(START, 1)
        README.write_text(head + START + "\n" + table(s) + "\n" + END + rest.split(END, 1)[1])
    print(table(s))
    for m in s["alive"]:
        print(f"\n{m['name']} ({m['status']})\n{m['diff']}")
    if s["stale_verdicts"]:
        print("\nequivalent/ names mutants whose diff changed:", *s["stale_verdicts"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
