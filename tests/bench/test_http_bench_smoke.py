"""The HTTP benchmark (bench/http_bench.py) runs end to end, quickly, so that it cannot rot.

`--smoke` measures 1 s per operation on one small demo size: the figures mean nothing here (speed is
only judged by `make bench-http`); what is checked is that every piece ran and reported consistently.
On PostgreSQL + Redis (TEST_DATABASE_URL / TEST_REDIS_URL) the benchmark uses them too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from bench.http_bench import MEASURED, parse_wrk
from settings import ROOT

SCRIPT = ROOT / "bench" / "http_bench.py"

# A report of Debian's wrk 4.1.0 (`wrk --latency`), with every unit it uses for times.
WRK_REPORT = """Running 5s test @ http://127.0.0.1:8000/graphql
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52s   301.22ms   1.97s    70.00%
    Req/Sec    12.10      5.31    20.00     60.00%
  Latency Distribution
     50%  850.00us
     75%   12.40ms
     90%    1.10s
     99%    1.50m
  102 requests in 5.01s, 1.23MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:     20.36
Transfer/sec:    251.33KB
"""


def test_wrk_report_is_read_in_milliseconds() -> None:
    result = parse_wrk(WRK_REPORT)
    assert result.requests_per_second == 20.36
    assert result.p50_ms == pytest.approx(0.85)
    assert result.p99_ms == pytest.approx(90_000.0)  # 1.5 minutes
    assert result.requests == 102
    assert result.failed == 2 + 3 + 4


def test_a_report_without_latency_distribution_is_refused() -> None:
    without = re.sub(r"  Latency Distribution\n(?:\s+\d+%.*\n)+", "", WRK_REPORT)
    with pytest.raises(ValueError, match="wrk --latency"):
        parse_wrk(without)


def test_missing_wrk_names_the_package_to_install() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke"],
        env={**os.environ, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "apt-get install wrk" in done.stderr


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def test_smoke_run_measures_every_operation_and_judges_every_target() -> None:
    if shutil.which("wrk") is None:
        if os.environ.get("CI"):
            pytest.fail("wrk is not installed; .ci/run installs it with apt-get", pytrace=False)
        pytest.skip("wrk is not installed (apt-get install wrk)")
    env = {**os.environ}
    env.pop("BENCH_DATABASE_URL", None)
    env.pop("BENCH_REDIS_URL", None)
    if os.environ.get("TEST_DATABASE_URL"):
        env["BENCH_DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
    if os.environ.get("TEST_REDIS_URL"):
        env["BENCH_REDIS_URL"] = os.environ["TEST_REDIS_URL"]

    # when
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke"], env=env, capture_output=True, text=True, timeout=600, check=False
    )

    # then
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    database = "PostgreSQL" if os.environ.get("TEST_DATABASE_URL") else "SQLite"
    assert f"{database} at demo scale 0.05 (5,000 consults)" in out
    assert ("Redis cache" if os.environ.get("TEST_REDIS_URL") else "in-process cache") in out

    rows: dict[str, tuple[float, float, float, float, int]] = {}
    for name in MEASURED:
        line = next(line for line in out.splitlines() if line.startswith(name))
        cells = line[len(name) :].split()
        rows[name] = (_number(cells[0]), _number(cells[1]), _number(cells[2]), _number(cells[3]), int(cells[4]))
    limit = rows[MEASURED[0]][0]
    for name, (rate, p50, p99, share, failed) in rows.items():
        assert rate > 0, name
        assert 0 < p50 <= p99, name
        # The rates are printed to 0.1 req/s and the share to 0.01 %: the share recomputed from the printed
        # rates may differ by what that rounding allows, and no more.
        rounding = rate / limit * 100 * (0.05 / rate + 0.05 / limit) + 0.005
        assert share == pytest.approx(rate / limit * 100, abs=rounding + 1e-9), name
        assert failed == 0, name

    counted = re.findall(r"^\((?:b|c|d|e)\) [^\n]*?\s+(\d+) \(([\d.]+) ms\)$", out, re.MULTILINE)
    assert len(counted) == 4, out
    assert all(int(statements) > 0 for statements, _ in counted[1:]), counted

    verdicts = dict(re.findall(r"^(.+?)\s{2,}\S.*\s{2}(PASS|FAIL|n/a)$", out, re.MULTILINE))
    assert len(verdicts) == 6, out
    assert verdicts["SQL statements the same at every size"] == "n/a"  # one size only under --smoke
    assert verdicts["every answer 2xx, no socket error"] == "PASS"
    assert verdicts["(b) answers (a)'s bytes exactly"] == "PASS"
    assert {v for k, v in verdicts.items() if k.startswith(("(b) >=", "(c) p50", "(c) 2 workers"))} <= {"PASS", "FAIL"}
