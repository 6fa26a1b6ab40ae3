"""benchmarks/critical_path.py on a run whose timeline is known (written here as the stage
logs and Snakemake benchmark files a real run writes)."""

import importlib.util
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 30, 9, 0, 0).timestamp()


@pytest.fixture(scope="module")
def cp():
    spec = importlib.util.spec_from_file_location("critical_path", ROOT / "benchmarks" / "critical_path.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stamp(t: float) -> str:
    d = datetime.fromtimestamp(T0 + t)
    return d.strftime("%Y-%m-%d %H:%M:%S,") + f"{d.microsecond // 1000:03d}"


def _job(out: Path, stage, job, start, startup, work, cpu, sampled=None):
    """A job whose process ran from ``start`` for ``startup + work`` s (relative to T0) and
    used ``cpu`` CPU seconds. ``sampled``: the log does not say its CPU (logs before the
    CPU was logged) and the benchmark file's ``cpu_time`` holds ``sampled``; else the log
    says ``cpu`` and the benchmark file holds a stale sample (a third of it)."""
    logged = "" if sampled is not None else f", CPU {cpu:.1f} s"
    bench_cpu = sampled if sampled is not None else cpu / 3
    (out / "logs" / stage).mkdir(parents=True, exist_ok=True)
    (out / "benchmarks" / stage).mkdir(parents=True, exist_ok=True)
    first, last = start + startup, start + startup + work
    (out / "logs" / stage / f"{job}.log").write_text(
        f"{_stamp(first)} INFO hyperscan.{stage}: start {stage} (pid 1, threads 1)\n"
        f"{_stamp(last)} INFO hyperscan.{stage}: done {stage} in {work:.1f} s, peak memory 100 MB{logged}\n")
    (out / "benchmarks" / stage / f"{job}.tsv").write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        f"{startup + work:.2f}\t0:00:01\t100\t200\t90\t95\t0\t0\t100\t{bench_cpu:.2f}\n")


def test_chain_parts_and_floors_of_a_known_run(tmp_path, cp):
    # run starts at 0; Snakemake needs 1.0 s before the first job; a -> (b beside c) -> d
    _job(tmp_path, "preprocess", "D01_S1", 1.0, 1.0, 6.0, 7.0)  # 1 .. 8
    _job(tmp_path, "synchrony", "D01_S1", 8.5, 0.5, 4.0, 8.0)  # 8.5 .. 13 (waited for a)
    _job(tmp_path, "windows", "D01_S1", 8.6, 0.4, 1.0, 1.4)  # 8.6 .. 10, off the chain
    _job(tmp_path, "summary", "group", 13.5, 0.5, 2.0, None, sampled=2.5)  # 13.5 .. 16, an older log
    result = cp.analyse(tmp_path, start=T0, end=T0 + 17.0, cores=2)
    assert result["chain"] == ["preprocess/D01_S1", "synchrony/D01_S1", "summary/group"]
    assert result["run_start_s"] == pytest.approx(1.0, abs=1e-3)
    assert result["chain_work_s"] == pytest.approx(12.0)
    assert result["chain_startup_s"] == pytest.approx(2.0, abs=1e-3)
    assert result["gaps_s"] == pytest.approx(1.0, abs=2e-3)  # 8 -> 8.5 and 13 -> 13.5
    assert result["run_end_s"] == pytest.approx(1.0, abs=1e-3)
    # the parts add up to the wall time
    parts = (result["run_start_s"] + result["chain_work_s"] + result["chain_startup_s"]
             + result["gaps_s"] + result["run_end_s"])
    assert parts == pytest.approx(result["wall_s"], abs=1e-2) and result["wall_s"] == pytest.approx(17.0)
    assert result["one_process_floor_s"] == pytest.approx(13.0, abs=1e-3)
    assert result["cpu_s"] == pytest.approx(18.9) and result["cpu_floor_s"] == pytest.approx(9.45)
    assert [j["cpu_exact"] for j in result["jobs"]] == [True, True, True, False]
    text = cp.report(result, recording_s=1200.0)
    assert "   2.5~ summary/group" in text and "   8.0  synchrony/D01_S1" in text
    assert "one process, same work 13.0 s = 92x real time" in text
    assert f"CPU floor 18.9 CPU s / 2 cores = {9.45:.1f} s" in text


def test_jobs_without_a_finished_log_are_left_out(tmp_path, cp):
    _job(tmp_path, "preprocess", "D01_S1", 1.0, 1.0, 6.0, 7.0)
    (tmp_path / "logs" / "nulls").mkdir(parents=True)
    (tmp_path / "benchmarks" / "nulls").mkdir(parents=True)
    (tmp_path / "logs" / "nulls" / "D01_S1.log").write_text(f"{_stamp(8.0)} INFO hyperscan.nulls: start nulls\n")
    (tmp_path / "benchmarks" / "nulls" / "D01_S1.tsv").write_text("s\tcpu_time\n3.0\t3.0\n")
    assert [j["stage"] for j in cp.jobs(tmp_path)] == ["preprocess"]
    assert cp.analyse(tmp_path / "nothing") == {"jobs": [], "chain": []}
