"""benchmarks/critical_path.py on runs whose timeline is known (written here as the stage
logs and Snakemake benchmark files a real run writes)."""

import importlib.util
import time
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_796_036_400.0  # 2026-11-30 09:00:00 UTC


@pytest.fixture(scope="module")
def cp():
    spec = importlib.util.spec_from_file_location("critical_path", ROOT / "benchmarks" / "critical_path.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=["UTC", "America/New_York"])
def local_time(request, monkeypatch):
    """Logs carry local time (logging's asctime): the analysis must read them as such."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def _stamp(t: float) -> str:
    d = datetime.fromtimestamp(T0 + t)  # local time, as logging writes it
    return d.strftime("%Y-%m-%d %H:%M:%S,") + f"{d.microsecond // 1000:03d}"


def _job(out: Path, stage, job, start, overhead, work, cpu, sampled=None, done_work=None, wall=None):
    """A job whose process ran from ``start`` (s after T0): ``overhead`` s of start-up, then
    ``work`` s between its first and last log line, and used ``cpu`` CPU seconds.
    ``sampled``: the log does not say its CPU (logs before it did) and the benchmark's
    ``cpu_time`` holds ``sampled``; else the log says ``cpu`` and the benchmark holds a
    stale sample. ``done_work``: what the done line says (one decimal, as logged);
    ``wall``: the benchmark's ``s`` (default overhead + work)."""
    (out / "logs" / stage).mkdir(parents=True, exist_ok=True)
    (out / "benchmarks" / stage).mkdir(parents=True, exist_ok=True)
    logged = "" if sampled is not None else f", CPU {cpu:.1f} s"
    bench_cpu = sampled if sampled is not None else cpu / 3
    first, last = start + overhead, start + overhead + work
    (out / "logs" / stage / f"{job}.log").write_text(
        f"{_stamp(first)} INFO hyperscan.{stage}: start {stage} (pid 1, threads 1)\n"
        f"{_stamp(last)} INFO hyperscan.{stage}: done {stage} in {done_work or work:.1f} s, "
        f"peak memory 100 MB{logged}\n")
    (out / "benchmarks" / stage / f"{job}.tsv").write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        f"{wall or overhead + work:.2f}\t0:00:01\t100\t200\t90\t95\t0\t0\t100\t{bench_cpu}\n")


def test_chain_parts_and_floors_of_a_known_run(tmp_path, cp, local_time):
    # the run starts at 0; Snakemake needs 1.0 s before the first job; a -> b (c beside) -> d
    _job(tmp_path, "preprocess", "D01_S1", 1.0, 1.0, 6.0, 7.0)  # 1 .. 8
    _job(tmp_path, "synchrony", "D01_S1", 8.5, 0.5, 4.0, 8.0)  # 8.5 .. 13, waited for a
    _job(tmp_path, "windows", "D01_S1", 8.6, 0.4, 1.0, 1.4)  # 8.6 .. 10, beside it
    _job(tmp_path, "summary", "group", 13.5, 0.5, 2.0, None, sampled=2.5)  # 13.5 .. 16, an older log
    result = cp.analyse(tmp_path, start=T0, end=T0 + 17.0, cores=2)
    assert result["chain"] == ["preprocess/D01_S1", "synchrony/D01_S1", "summary/group"]
    assert result["run_start_s"] == pytest.approx(1.0, abs=2e-3)
    assert result["chain_work_s"] == pytest.approx(12.0, abs=3e-3)
    assert result["chain_overhead_s"] == pytest.approx(2.0, abs=3e-3)
    assert result["gaps_s"] == pytest.approx(1.0, abs=3e-3)  # 8 -> 8.5 and 13 -> 13.5
    assert result["run_end_s"] == pytest.approx(1.0, abs=2e-3)
    assert result["one_process_floor_s"] == pytest.approx(13.0, abs=3e-3)
    # CPU from the logs where they say it (benchmark files hold a third: a stale sample)
    assert [j["cpu_exact"] for j in result["jobs"]] == [True, True, True, False]
    assert result["cpu_s"] == pytest.approx(18.9) and result["cpu_floor_s"] == pytest.approx(9.45)
    text = cp.report(result, recording_s=1200.0)
    assert "one process, same work (run start + job work; a run's end not counted) 13.0 s = 92x" in text
    assert f"CPU floor 18.9 CPU s / 2 cores = {9.45:.1f} s" in text
    assert "   2.5~ summary/group" in text and "   8.0  synchrony/D01_S1" in text


def test_overlap_within_the_skew_and_short_jobs_that_start_later(tmp_path, cp):
    """A chain job whose process (end - s) seems to start 0.2 s before its predecessor's
    last log line still waited for it (net gap -0.2 s); a 0.1-s job that started after
    the chain job is not slotted in before it."""
    _job(tmp_path, "preprocess", "D01_S1", 1.0, 1.0, 6.0, 7.0)  # 1 .. 8
    _job(tmp_path, "synchrony", "D01_S1", 7.8, 0.5, 4.0, 8.0)  # 7.8 .. 12.3
    _job(tmp_path, "surrogates", "group", 7.9, 0.05, 0.05, 0.1)  # 7.9 .. 8.0, after synchrony started
    result = cp.analyse(tmp_path, start=T0, end=T0 + 12.3, cores=2)
    assert result["chain"] == ["preprocess/D01_S1", "synchrony/D01_S1"]
    assert result["gaps_s"] == pytest.approx(-0.2, abs=3e-3)


def test_work_comes_from_the_stamps_not_the_rounded_done_line(tmp_path, cp):
    # the done line says 4.0 (3.96 rounded) but the process's wall is 3.98 s
    _job(tmp_path, "nulls", "D01_S1", 0.0, 0.02, 3.96, 4.0, done_work=3.96, wall=3.98)
    (j,) = cp.analyse(tmp_path, start=T0, end=T0 + 4.0)["jobs"]
    assert j["work_s"] == pytest.approx(3.96, abs=2e-3) and j["overhead_s"] == pytest.approx(0.02, abs=2e-3)


def test_odd_benchmark_files_and_unfinished_or_stale_jobs(tmp_path, cp):
    _job(tmp_path, "preprocess", "D01_S1", 1.0, 1.0, 6.0, 7.0)
    # Snakemake writes NA when a job ends before its first sample: the log's CPU is used
    _job(tmp_path, "surrogates", "group", 8.0, 0.3, 0.1, 0.4)
    bench = tmp_path / "benchmarks" / "surrogates" / "group.tsv"
    bench.write_text(bench.read_text().rsplit("\t", 1)[0] + "\tNA\n")
    # a job still running (no done line), one with an empty and one with a header-only file
    (tmp_path / "logs" / "nulls").mkdir()
    (tmp_path / "logs" / "nulls" / "D01_S1.log").write_text(f"{_stamp(8.0)} INFO hyperscan.nulls: start nulls\n")
    _job(tmp_path, "stats", "group", 8.5, 0.3, 0.5, 0.8)
    (tmp_path / "benchmarks" / "stats" / "group.tsv").write_text("")
    _job(tmp_path, "person", "group", 8.5, 0.3, 0.5, 0.8)
    (tmp_path / "benchmarks" / "person" / "group.tsv").write_text("s\tcpu_time\n")
    # a job left from an earlier run in the same folder (ended before this run started)
    _job(tmp_path, "windows", "D01_S1", -100.0, 0.3, 0.5, 0.8)
    result = cp.analyse(tmp_path, start=T0, end=T0 + 9.0)
    assert [f"{j['stage']}/{j['job']}" for j in result["jobs"]] == ["preprocess/D01_S1", "surrogates/group"]
    assert result["jobs"][1]["cpu_s"] == pytest.approx(0.4) and result["jobs"][1]["cpu_exact"]
    assert result["unfinished"] == ["nulls/D01_S1", "person/group", "stats/group"]
    assert "not finished (no done line or benchmark row; their time is in the gaps): nulls/D01_S1" \
        in cp.report(result)
    assert cp.analyse(tmp_path / "nothing") == {"jobs": [], "chain": [], "unfinished": []}


def test_without_the_runs_start_and_end_they_are_not_measured(tmp_path, cp):
    _job(tmp_path, "preprocess", "D01_S1", 1.0, 1.0, 6.0, 7.0)
    result = cp.analyse(tmp_path)
    assert not result["measured_start_end"] and result["wall_s"] == pytest.approx(7.0, abs=2e-3)
    assert "run start (validate, DAG) not measured" in cp.report(result)
    assert "run end not measured" in cp.report(result)
