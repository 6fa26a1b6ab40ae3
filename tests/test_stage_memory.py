"""Memory-lean stages (issue #19, fifth session) give the numbers of the old code paths, bit for bit.

* ``Recording.from_fif`` reads in time blocks (float32 / ``exact``) without a whole float64 copy;
* synchrony and person hold float32 when that is lossless and compute in float64 as before;
* ``compute_synchrony(reduce=...)`` summarises chunk by chunk with one channel block per side;
* the null models keep the phase surrogates on disk and read the therapist only to make them.

Each new path is compared with the old one computed here on the same small recordings
(exact equality: ``assert_array_equal``, or byte-identical TSV files).
"""

import tracemalloc

import mne
import numpy as np
import pytest

from hyperscan.config import validate_config
from hyperscan.io import Recording
from hyperscan.simulate import CHANNELS, simulate_dyad

SF = 250.0


def _clean(x):
    y = mne.filter.filter_data(x, SF, 1.0, 45.0, verbose="error")
    return y - y.mean(axis=0)


def _fif(path, data, bad=(), fmt="single"):
    names = list(CHANNELS) if data.shape[0] == len(CHANNELS) else [f"E{i}" for i in range(data.shape[0])]
    raw = mne.io.RawArray(data, mne.create_info(names, SF, "eeg"), verbose="error")
    if bad:
        raw.set_annotations(mne.Annotations([b[0] for b in bad], [b[1] for b in bad], ["BAD_test"] * len(bad)))
    raw.save(path, fmt=fmt, overwrite=True, verbose="error")
    return path


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """Preprocessed-like FIFs of one dyad (130 s, 12 channels, a BAD span) and a partner therapist."""
    d = tmp_path_factory.mktemp("fifs")
    c, t, _, _ = simulate_dyad(0, seed=3, duration=130.0, null=False)
    other = simulate_dyad(1, seed=3, duration=130.0, null=False)[1]
    return dict(client=_fif(d / "client_raw.fif", _clean(c), bad=[(20.0, 3.0)]),
                therapist=_fif(d / "therapist_raw.fif", _clean(t)),
                partner=_fif(d / "partner_raw.fif", _clean(other)[:, :-700]), dir=d)


def _whole(path):
    raw = mne.io.read_raw_fif(path, preload=False, verbose="error")
    return raw.get_data(picks=mne.pick_types(raw.info, eeg=True))


@pytest.mark.parametrize("block_s", [7.3, 1000.0])
def test_from_fif_in_blocks_equals_the_whole_read(session, monkeypatch, block_s):
    import hyperscan.io as io

    monkeypatch.setattr(io, "READ_BLOCK_S", block_s)  # 7.3 s: 18 blocks, the last one partial
    whole = _whole(session["client"])
    f32 = Recording.from_fif(session["client"], dtype="float32").data
    assert f32.dtype == np.float32
    np.testing.assert_array_equal(f32, whole.astype(np.float32))
    exact = Recording.from_fif(session["client"], dtype="exact").data
    assert exact.dtype == np.float32  # a single-precision FIF: float32 is lossless
    np.testing.assert_array_equal(exact.astype(np.float64), whole)
    np.testing.assert_array_equal(Recording.from_fif(session["client"]).data, whole)


def test_from_fif_exact_keeps_float64_for_a_double_precision_file(session, tmp_path):
    data = np.random.default_rng(5).standard_normal((4, int(SF * 20))) * 1e-5
    path = _fif(tmp_path / "double_raw.fif", data, fmt="double")
    rec = Recording.from_fif(path, dtype="exact")
    assert rec.data.dtype == np.float64
    np.testing.assert_array_equal(rec.data, _whole(path))


def test_from_fif_float32_never_holds_a_whole_float64_copy(tmp_path):
    """Peak of the Python allocations while reading: the float32 result plus one block (the
    old whole read held float64 + float32 = 3x the result)."""
    data = np.random.default_rng(0).standard_normal((32, int(SF * 600))) * 1e-5
    path = _fif(tmp_path / "long_raw.fif", data)
    del data
    tracemalloc.start()
    try:
        rec = Recording.from_fif(path, dtype="exact")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rec.data.dtype == np.float32
    assert peak < 1.5 * rec.data.nbytes, (peak, rec.data.nbytes)


def test_synchrony_stage_on_float32_is_bit_identical_to_float64(session, tmp_path):
    import xarray as xr

    from hyperscan.synchrony import compute_synchrony, synchrony_stage

    cfg = validate_config({"bands": {"theta": [4, 8], "alpha": [8, 13]}})
    out = tmp_path / "synchrony.nc"
    # channel_block default (32) > 12 channels; the 60-min stage runs 2 x 2 blocks of 32:
    # the float32 input goes through band_analytic's float64 blocks either way
    synchrony_stage(str(session["client"]), str(session["therapist"]), cfg, out, threads=2)
    c, t = Recording.from_fif(session["client"]), Recording.from_fif(session["therapist"])
    assert c.data.dtype == np.float64
    ref = compute_synchrony(c.data, t.data, SF, {k: tuple(v) for k, v in cfg["bands"].items()}, cfg["metrics"],
                            2.0, 1.0, client_channels=c.channels, therapist_channels=t.channels,
                            bad_segments=c.bad_segments + t.bad_segments)
    with xr.open_dataset(out, engine="h5netcdf") as got:
        assert got["bad_window"].values.sum() > 0
        for m in cfg["metrics"]:
            np.testing.assert_array_equal(got[m].values, ref[m].values)


def test_compute_synchrony_float32_input_in_several_blocks_is_bit_identical():
    """Several channel blocks per side and window chunks: float32 input of exactly
    representable values = its float64 copy."""
    from hyperscan.synchrony import compute_synchrony

    c, t, _, _ = simulate_dyad(0, seed=8, duration=130.0, null=False)
    c32, t32 = _clean(c).astype(np.float32), _clean(t).astype(np.float32)
    kw = dict(bands={"alpha": (8, 13), "beta": (13, 30)}, metrics=["plv", "coh", "wpli", "envcorr"],
              chunk_windows=9, channel_block=5)
    a = compute_synchrony(c32, t32, SF, **kw)
    b = compute_synchrony(c32.astype(np.float64), t32.astype(np.float64), SF, **kw)
    for m in kw["metrics"]:
        np.testing.assert_array_equal(a[m].values, b[m].values)


@pytest.mark.parametrize("how", ["mean", "median", "homologous"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_reduce_chunk_by_chunk_equals_reducing_each_band(how, dtype):
    """One channel block per side: each chunk of windows is summarised as it comes; the
    values equal summarising each band's whole (window, channel, channel) array (the old
    path, still taken with several channel blocks)."""
    from hyperscan.synchrony import compute_synchrony
    from hyperscan.windows import summarise_matrix

    c, t, _, _ = simulate_dyad(0, seed=6, duration=130.0, null=False)
    c, t = _clean(c), _clean(t)
    kw = dict(bands={"theta": (4, 8), "alpha": (8, 13)}, metrics=["plv", "envcorr", "imcoh"], dtype=dtype,
              chunk_windows=10, client_channels=CHANNELS, therapist_channels=CHANNELS,
              bad_segments=[(30.0, 4.0)])
    full = compute_synchrony(c, t, SF, channel_block=64, **kw)
    for block in (64, 5):  # one block per side (per chunk), three blocks (per band)
        got = compute_synchrony(c, t, SF, channel_block=block,
                                reduce=lambda da: summarise_matrix(da, how).values, **kw)
        for m in kw["metrics"]:
            want = np.stack([np.asarray(summarise_matrix(full[m].isel(band=k), how))
                             for k in range(full.sizes["band"])])
            if block == 64:
                np.testing.assert_array_equal(got[m].values, want)
            else:  # other channel blocks are other BLAS shapes: equal to rounding only
                np.testing.assert_allclose(got[m].values, want, rtol=0, atol=1e-5 if dtype == "float32" else 1e-12)


def _windows_tsv(path, n_win, *, bands=("theta", "alpha"), metrics=("plv", "envcorr")):
    import pandas as pd

    from hyperscan.windows import write_tsv

    rng = np.random.default_rng(1)
    table = pd.concat([pd.DataFrame({"dyad": "D01", "session": "S1", "band": b, "metric": m,
                                     "start": np.arange(n_win, dtype=float), "end": np.arange(n_win) + 2.0,
                                     "value": rng.uniform(0, 1, n_win), "excluded": (np.arange(n_win) % 17 == 3) * 1,
                                     "r1_category": np.where(np.arange(n_win) % 3, "a", "b")})
                       for b in bands for m in metrics])
    write_tsv(table, path)
    return path


def test_person_stage_one_person_at_a_time_is_bit_identical(session, tmp_path):
    from hyperscan.person import person_stage, person_table
    from hyperscan.windows import read_windows, write_tsv

    cfg = validate_config({"bands": {"theta": [4, 8], "alpha": [8, 13]}})
    n_win = int(_whole(session["client"]).shape[1] / SF) - 1
    windows = _windows_tsv(tmp_path / "windows.tsv", n_win)
    person_stage(str(session["client"]), str(session["therapist"]), windows, cfg, tmp_path / "person.tsv")
    # the old stage: both people read whole in float64, then person_table
    c, t = Recording.from_fif(session["client"]), Recording.from_fif(session["therapist"])
    old = person_table({"client": (c.data, c.channels), "therapist": (t.data, t.channels)}, SF,
                       read_windows(windows), {k: tuple(v) for k, v in cfg["bands"].items()}, 2.0)
    write_tsv(old, tmp_path / "old.tsv")
    assert (tmp_path / "person.tsv").read_bytes() == (tmp_path / "old.tsv").read_bytes()


def test_nulls_stage_with_spilled_surrogates_is_bit_identical(session, tmp_path):
    """nulls_stage (therapist read only for the surrogates, surrogates on disk, partners
    read in blocks) = session_nulls on recordings read whole and surrogates in memory."""
    from types import SimpleNamespace

    from hyperscan.nulls import nulls_stage, session_nulls, session_rng
    from hyperscan.windows import read_windows, write_tsv

    cfg = validate_config({"bands": {"theta": [4, 8], "alpha": [8, 13]}, "metrics": ["plv", "envcorr"],
                           "stats": {"nulls": {"n_phase_surrogates": 2}}})
    n_win = int(_whole(session["client"]).shape[1] / SF) - 1
    windows = _windows_tsv(tmp_path / "windows.tsv", n_win)
    ses = SimpleNamespace(dyad="D01", session="S1")
    out = tmp_path / "nulls" / "nulls.tsv"
    stale = out.parent / ".nulls-killed"  # a killed earlier job's spill folder
    stale.mkdir(parents=True)
    (stale / "surrogate-0.npy").write_bytes(b"x" * 100)
    nulls_stage(str(session["client"]), str(session["therapist"]), [str(session["partner"])], windows, ses, cfg,
                out, threads=2)
    # this run's spill removed, and the killed run's too
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".nulls-")] == []

    def whole32(path):
        raw = mne.io.read_raw_fif(path, preload=False, verbose="error")
        picks = mne.pick_types(raw.info, eeg=True)
        bad = [(a["onset"] - raw.first_time, a["duration"]) for a in raw.annotations
               if a["description"].upper().startswith("BAD")]
        return Recording(raw.get_data(picks=picks).astype(np.float32), SF, [raw.ch_names[i] for i in picks], bad)

    old = session_nulls(whole32(session["client"]), whole32(session["therapist"]), [whole32(session["partner"])],
                        read_windows(windows), cfg, rng=session_rng(cfg["stats"]["seed"], "phase", "D01", "S1"))
    assert old["n_pseudo"].max() == 1 and old["n_phase"].iloc[0] == 2
    write_tsv(old, tmp_path / "old.tsv")
    assert out.read_bytes() == (tmp_path / "old.tsv").read_bytes()


@pytest.mark.parametrize("method", ["hilbert", "morlet"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_band_analytic_channel_blocks_never_change_a_value(method, dtype):
    """Each channel is filtered and transformed on its own: block 1, 2, the default (by
    memory budget: all 7 channels of 40 s here) or all channels at once, on 1 or 2 threads,
    give the same bits."""
    from hyperscan.synchrony import band_analytic
    from hyperscan.threads import limit_threads

    x = np.random.default_rng(3).standard_normal((7, int(SF * 40))) * 1e-5
    ref = band_analytic(x, SF, (8, 13), method, dtype=dtype, block=7)
    for block in (1, 2, 3, None):
        for threads in (1, 2):
            with limit_threads(threads):
                np.testing.assert_array_equal(band_analytic(x, SF, (8, 13), method, dtype=dtype, block=block), ref)


def _args(*argv):
    from hyperscan.cli import build_parser

    return build_parser().parse_args(["run", "--configfile", "c.yaml", "--cores", "2", *argv])


def test_local_runs_pass_the_available_memory_to_snakemake(monkeypatch):
    import hyperscan.cli as cli

    monkeypatch.setattr(cli, "available_memory_mb", lambda: 5120)
    argv = cli.snakemake_argv(_args(), ["all"], quiet=False)
    assert "--resources=mem_mb=5120" in argv and argv[-1] == "all"  # one token: "all" stays a target
    for extra in (["--resources", "mem_mb=800"], ["--resources=mem_mb=800"], ["--executor", "slurm"],
                  ["--profile=profiles/slurm"]):
        assert not any(a.startswith("--resources=mem_mb=5120") for a in cli.snakemake_argv(_args(), extra, False))
    assert not any(a.startswith("--resources") for a in cli.snakemake_argv(_args("--profile", "p"), [], False))
    monkeypatch.setattr(cli, "available_memory_mb", lambda: None)  # unknown: no limit
    assert not any(a.startswith("--resources") for a in cli.snakemake_argv(_args(), [], False))
    monkeypatch.undo()
    assert cli.available_memory_mb() > 0


def test_user_resources_keep_the_local_memory_cap(monkeypatch, capsys):
    """Another resource named by the user (e.g. a GPU count) used to drop the memory cap:
    a repeated --resources replaces the earlier one, so mem_mb joins the user's option."""
    import hyperscan.cli as cli

    monkeypatch.setattr(cli, "available_memory_mb", lambda: 5120)
    argv = cli.snakemake_argv(_args(), ["--resources", "gpu=1", "summary"], quiet=False)
    i = argv.index("--resources")
    assert argv[i:i + 4] == ["--resources", "gpu=1", "mem_mb=5120", "--cores"] and argv[-1] == "summary"
    assert sum(a.startswith(("--resources", "--res")) for a in argv) == 1
    argv = cli.snakemake_argv(_args(), ["--res=gpu=1", "all"], quiet=False)  # a target after one token
    i = argv.index("--resources")
    assert argv[i:i + 4] == ["--resources", "gpu=1", "mem_mb=5120", "--cores"] and argv[-1] == "all"
    # the user's own mem_mb stays theirs; above what is available it is kept, with a warning
    assert cli.snakemake_argv(_args(), ["--resources", "mem_mb=800", "gpu=1"], False)[-3:] == [
        "--resources", "mem_mb=800", "gpu=1"]
    assert "warning" not in capsys.readouterr().err
    assert cli.snakemake_argv(_args(), ["--resources=mem_mb=9000"], False)[-1] == "--resources=mem_mb=9000"
    assert "mem_mb=9000 is more than this machine has available now (5120 MB)" in capsys.readouterr().err
    # a cluster run gets nothing added to its resources
    assert cli.snakemake_argv(_args(), ["--executor", "slurm", "--resources", "gpu=1"], False)[-2:] == [
        "--resources", "gpu=1"]


def test_local_gpu_runs_take_one_gpu_job_at_a_time(monkeypatch):
    """synchrony.backend: cupy: a local run limits gpu to 1 (every job uses the first GPU);
    without it Snakemake would start every session's GPU job at once."""
    import hyperscan.cli as cli

    monkeypatch.setattr(cli, "available_memory_mb", lambda: 5120)
    argv = cli.snakemake_argv(_args(), ["all"], quiet=False, gpu=1)
    i = argv.index("--resources")
    assert argv[i:i + 4] == ["--resources", "mem_mb=5120", "gpu=1", "--cores"] and argv[-1] == "all"
    assert cli.snakemake_argv(_args(), ["summary"], False, gpu=None)[-1] == "summary"
    assert not any("gpu" in a for a in cli.snakemake_argv(_args(), ["summary"], False, gpu=None))
    # the user's own gpu count stays theirs; their other resources get ours beside them
    argv = cli.snakemake_argv(_args(), ["--resources", "gpu=2", "all"], False, gpu=1)
    i = argv.index("--resources")
    assert argv[i:i + 4] == ["--resources", "gpu=2", "mem_mb=5120", "--cores"] and argv[-1] == "all"
    # a one-token --resources=... followed by a target: the target must stay a target
    argv = cli.snakemake_argv(_args(), ["--resources=mem_mb=800", "all"], False, gpu=1)
    i = argv.index("--resources")
    assert argv[i:i + 4] == ["--resources", "mem_mb=800", "gpu=1", "--cores"] and argv[-1] == "all"
    from snakemake.cli import parse_args
    assert parse_args(argv)[1].targets == ["all"]
    monkeypatch.setattr(cli, "available_memory_mb", lambda: None)  # memory unknown: gpu alone, one token
    assert "--resources=gpu=1" in cli.snakemake_argv(_args(), ["all"], False, gpu=1)
    # a cluster run: nothing added (SLURM gives each job its own GPU)
    assert not any("gpu" in a for a in cli.snakemake_argv(_args("--profile", "p"), [], False, gpu=1))


def test_declared_memory_is_capped_at_what_a_local_run_has(tmp_path):
    """A rule asking more than --resources mem_mb would be refused by Snakemake ("Job needs
    mem_mb=..."): common.smk's mem_mb caps it, so the job runs, alone."""
    import re
    import subprocess
    import sys

    from conftest import ROOT, write_config

    config = write_config(tmp_path / "config.yaml", ROOT / "sample_recordings" / "sessions.tsv", tmp_path / "out")

    def dry(*extra):
        proc = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
                               "--configfile", str(config), "--cores", "2", "-n", *extra],
                              capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        text = proc.stdout + proc.stderr
        found = {}
        for piece in re.split(r"\nrule ", text)[1:]:  # one job block each, up to the next
            mem = re.search(r"mem_mb=(\d+|<TBD>)", piece)
            if mem:
                found[piece.split(":", 1)[0]] = mem.group(1)
        return found

    free, capped = dry(), dry("--resources=mem_mb=500")
    assert int(free["preprocess"]) > 500 and free["windows"] == "800"
    assert capped["preprocess"] == "500" and capped["windows"] == "500"
    assert capped["synchrony"] == "<TBD>"  # sized once its input exists (then capped alike)


def test_synchrony_and_nulls_stages_give_the_same_bits_on_1_and_2_threads(session, tmp_path):
    """The job's thread count (--cores) never changes a value: synchrony.nc and nulls.tsv of
    threads=1 and threads=2 are identical (a short last chunk used to run its complex GEMMs
    on 2 BLAS threads, and plv/coh/imcoh moved by ~1e-15; hyperscan verify then failed)."""
    from types import SimpleNamespace

    import xarray as xr

    from hyperscan.nulls import nulls_stage
    from hyperscan.synchrony import synchrony_stage

    cfg = validate_config({"bands": {"theta": [4, 8], "alpha": [8, 13]},
                           "stats": {"nulls": {"n_phase_surrogates": 2}}})
    n_win = int(_whole(session["client"]).shape[1] / SF) - 1
    windows = _windows_tsv(tmp_path / "windows.tsv", n_win)
    ses = SimpleNamespace(dyad="D01", session="S1")
    for th in (1, 2):
        synchrony_stage(str(session["client"]), str(session["therapist"]), cfg, tmp_path / f"s{th}.nc", threads=th)
        nulls_stage(str(session["client"]), str(session["therapist"]), [str(session["partner"])], windows, ses,
                    cfg, tmp_path / f"n{th}" / "nulls.tsv", threads=th)
    with xr.open_dataset(tmp_path / "s1.nc", engine="h5netcdf") as one, \
            xr.open_dataset(tmp_path / "s2.nc", engine="h5netcdf") as two:
        assert set(cfg["metrics"]) <= set(one.data_vars)
        for m in cfg["metrics"]:
            np.testing.assert_array_equal(one[m].values, two[m].values, err_msg=m)
    assert (tmp_path / "n1" / "nulls.tsv").read_bytes() == (tmp_path / "n2" / "nulls.tsv").read_bytes()
