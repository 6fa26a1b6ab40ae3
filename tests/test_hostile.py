"""Hostile and faulty inputs (issue #20): refused fast, in bounded memory, without a traceback."""

from __future__ import annotations

import resource
import subprocess
import sys
import time

import pytest

from conftest import hyperscan_cmd
from hyperscan.config import read_config_yaml, validate_config
from hyperscan.errors import InputError

# A 1.3 kB "billion laughs": 9**9 = 387 million strings once expanded.
BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{n}: &{n} [{', '.join(['*' + p] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi")]
    + ["sessions: *i", ""])


def _capped(limit_bytes):
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    return cap


def test_yaml_bomb_refused_fast_under_memory_cap(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(BOMB)
    assert len(BOMB) < 1500
    start = time.monotonic()
    proc = subprocess.run(hyperscan_cmd() + ["validate", "--configfile", str(cfg)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120, preexec_fn=_capped(3 << 30))
    elapsed = time.monotonic() - start
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "alias" in proc.stderr and "line 2" in proc.stderr, proc.stderr
    assert elapsed < 60  # includes the interpreter and MNE import; the refusal itself is instant


def test_yaml_aliases_refused_in_reader(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("bands: &b {alpha: [8, 12]}\nother: *b\n")
    with pytest.raises(InputError, match=r"line 2.*alias"):
        read_config_yaml(cfg)
    # A merge key is an alias too.
    cfg.write_text("x: &x {a: 1}\ny:\n  <<: *x\n")
    with pytest.raises(InputError, match="alias"):
        read_config_yaml(cfg)


def test_shared_subtree_config_refused_without_repr():
    """A config built in Python (Snakemake's own YAML loader keeps aliases as shared objects)
    whose expansion is huge is refused by size, before jsonschema formats it."""
    level = ["lol"] * 9
    for _ in range(8):
        level = [level] * 9
    start = time.monotonic()
    with pytest.raises(InputError, match="too large") as err:
        validate_config({"sessions": level})
    assert time.monotonic() - start < 5
    assert len(str(err.value)) < 1000


def test_oversized_config_file_refused(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("x: '" + "a" * (2 << 20) + "'\n")
    with pytest.raises(InputError, match="MiB"):
        read_config_yaml(cfg)


# --------------------------------------------------------------------------- numba cache
_SYNC_SCRIPT = """
import sys, numpy as np
from hyperscan.synchrony import METRICS, compute_synchrony
rng = np.random.default_rng(7)
t = np.arange(int(60 * 250)) / 250
common = np.sin(2 * np.pi * 10 * t)
client = rng.standard_normal((6, t.size)) + common
therapist = rng.standard_normal((5, t.size)) + 0.5 * common
out = {}
for dtype in ("float64", "float32"):
    ds = compute_synchrony(client, therapist, 250.0, {"alpha": (8, 13), "beta": (13, 30)}, list(METRICS),
                           2.0, 1.0, out_path=sys.argv[1] + dtype + ".nc", dtype=dtype, chunk_windows=16)
    for m in METRICS:
        out[dtype + m] = ds[m].values
    ds.close()
np.savez(sys.argv[1], **out)
"""


@pytest.mark.slow
def test_first_run_and_cached_run_give_identical_synchrony(tmp_path):
    """Issue #20: a first run on a machine (numba compiling, empty NUMBA_CACHE_DIR) and a
    later one (kernels from the cache) give bit-identical values for every metric."""
    import os

    import numpy as np

    script = tmp_path / "sync.py"
    script.write_text(_SYNC_SCRIPT)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba_cache"), "NUMBA_NUM_THREADS": "2"}
    for run in ("cold", "warm"):
        proc = subprocess.run([sys.executable, str(script), str(tmp_path / run)], env=env,
                              capture_output=True, text=True, timeout=1200)
        assert proc.returncode == 0, proc.stderr[-3000:]
        if run == "cold":
            assert any((tmp_path / "numba_cache").rglob("*.nbc")), "the cold run cached no kernel"
    cold, warm = np.load(tmp_path / "cold.npz"), np.load(tmp_path / "warm.npz")
    assert sorted(cold.files) == sorted(warm.files) and len(cold.files) >= 16
    for key in cold.files:
        assert np.isfinite(cold[key]).mean() > 0.9, key
        assert cold[key].tobytes() == warm[key].tobytes(), key


# --------------------------------------------------------------------------- lying EEG headers
@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    from hyperscan.simulate import simulate_study

    out = tmp_path_factory.mktemp("hostile_study") / "study"
    simulate_study(out, n_dyads=2, seed=5, duration=130.0)  # D01 EDF, D02 BrainVision
    return out


def _edit_edf(path, lo, hi, value: str):
    data = bytearray(path.read_bytes())
    data[lo:hi] = value.ljust(hi - lo).encode("ascii")
    path.write_bytes(bytes(data))


def _validate(study, tmp_path):
    from conftest import write_config

    cfg = write_config(tmp_path / "config.yaml", study / "sessions.tsv", tmp_path / "out")
    start = time.monotonic()
    proc = subprocess.run(hyperscan_cmd() + ["validate", "--configfile", str(cfg)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=300, preexec_fn=_capped(3 << 30))
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return proc.stderr, time.monotonic() - start


@pytest.mark.parametrize("case, edit, needle", [
    ("record of 1e-7 s", lambda s: _edit_edf(s / "eeg/D01_S1_client.edf", 244, 252, "1e-7"),
     "sampling rate of 2.5e+09 Hz"),
    ("record of 1e9 s", lambda s: _edit_edf(s / "eeg/D01_S1_client.edf", 244, 252, "1e9"),
     "sampling rate of 2.5e-07 Hz"),
    ("header size lies", lambda s: _edit_edf(s / "eeg/D01_S1_client.edf", 184, 192, "99999999"),
     "99999999-byte header"),
    ("9999 signals", lambda s: _edit_edf(s / "eeg/D01_S1_client.edf", 252, 256, "9999"),
     "declares 9999 signals"),
    ("BrainVision 1e-6 µs interval", lambda s: _rewrite(s / "eeg/D02_S1_therapist.vhdr", r"SamplingInterval=\S+",
                                                        "SamplingInterval=0.000001"), "sampling rate of 1e+12 Hz"),
    ("BrainVision 1e8 channels", lambda s: _rewrite(s / "eeg/D02_S1_therapist.vhdr", r"NumberOfChannels=\S+",
                                                    "NumberOfChannels=100000000"), "gives 100000000 channels"),
])
def test_lying_eeg_header_refused_by_validate(small_study, tmp_path, case, edit, needle):
    import shutil

    study = tmp_path / "study"
    shutil.copytree(small_study, study)
    edit(study)
    stderr, elapsed = _validate(study, tmp_path)
    items = [line for line in stderr.splitlines() if line.startswith("  - ")]
    assert any(needle in item and "expected" in item for item in items), (case, stderr)
    assert elapsed < 120, elapsed


def _rewrite(path, pattern, replacement):
    import re

    text = path.read_text(encoding="latin-1")
    assert re.search(pattern, text)
    path.write_text(re.sub(pattern, replacement, text), encoding="latin-1")


def test_lying_header_refused_by_reader_before_loading(small_study, tmp_path):
    """The preprocessing reader (not only validate) refuses a lying header."""
    import shutil

    from hyperscan.io import read_raw

    path = tmp_path / "x.edf"
    shutil.copy(small_study / "eeg/D01_S1_client.edf", path)
    _edit_edf(path, 244, 252, "1e-7")
    with pytest.raises(InputError, match="2.5e\\+09 Hz"):
        read_raw(path)


def test_xdf_nominal_rate_that_lies_is_refused(tmp_path):
    """A stream whose nominal rate is 1 GHz while its stamps advance at 250 Hz would be
    'drift-corrected' onto a 1-GHz grid (3e10 samples); it is refused instead."""
    import numpy as np

    from hyperscan.io import read_xdf_stream
    from hyperscan.xdf_writer import write_xdf

    n = 250 * 30
    times = 100.0 + np.arange(n) / 250.0
    values = np.random.default_rng(0).standard_normal((n, 2))
    for nominal, needle in ((1e9, "sampling rate of 1e\\+09 Hz"), (500.0, "declares 500 Hz but its time "
                                                                             "stamps advance at 250 Hz")):
        path = write_xdf(tmp_path / f"x{nominal:g}.xdf", [dict(name="EEG", type="EEG", srate=nominal, fmt="float32",
                                                                times=times, values=values, channels=["Cz", "Pz"])])
        start = time.monotonic()
        with pytest.raises(InputError, match=needle):
            read_xdf_stream(path, "EEG")
        assert time.monotonic() - start < 30


# --------------------------------------------------------------------------- stale manifest
def test_every_job_drops_the_study_manifest_before_writing(tmp_path):
    """A job that runs (and may fail) makes group/provenance.json stale: every workflow
    script but provenance's removes it first, so a failed run leaves no manifest listing
    outputs that are gone or replaced; the provenance rule writes it again at the end."""
    from pathlib import Path

    from hyperscan.provenance import MANIFEST, invalidate_manifest

    manifest = tmp_path / MANIFEST
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{}")
    invalidate_manifest(tmp_path)
    assert not manifest.exists()
    invalidate_manifest(tmp_path)  # absent: nothing to do, no error
    scripts = sorted((Path(__file__).resolve().parents[1] / "workflow" / "scripts").glob("*.py"))
    assert len(scripts) >= 10
    for script in scripts:
        text = script.read_text()
        calls = 'invalidate_manifest(snakemake.config["output_dir"])' in text
        # provenance writes the manifest; derivatives runs after it and files it in the BIDS view
        assert calls == (script.name not in ("provenance.py", "derivatives.py")), script.name
        if calls:  # before the stage writes anything
            call = text.index("invalidate_manifest(snakemake")
            assert call < min(text.index(f) for f in ("_stage(", "_session(") if f in text)


def test_config_subset_refuses_undeclared_reads():
    """A rule's config holds what it declared; reading another key of the config (also with
    .get and a default) raises, so no stage silently uses a default for a user's setting
    nor depends on a key whose change would not rerun it."""
    import pickle

    from hyperscan.config import validate_config
    from hyperscan.provenance import config_subset

    full = validate_config({"sessions": "s.tsv", "stats": {"seed": 7, "edge_trim": 2.0}})
    sub = config_subset(full, ["bands", "stats.seed"])
    assert sub == {"bands": full["bands"], "stats": {"seed": 7}}
    assert repr(sub) == repr({"bands": full["bands"], "stats": {"seed": 7}})  # Snakemake tracks repr
    assert sub["stats"]["seed"] == 7 and sub["stats"].get("seed") == 7
    with pytest.raises(KeyError, match="stats.edge_trim"):
        sub["stats"].get("edge_trim", 0.0)
    with pytest.raises(KeyError, match="window"):
        sub["window"]
    assert sub["stats"].get("not_a_config_key", 3) == 3
    back = pickle.loads(pickle.dumps(sub))  # how Snakemake hands params to a script
    with pytest.raises(KeyError, match="stats.edge_trim"):
        back["stats"].get("edge_trim")
