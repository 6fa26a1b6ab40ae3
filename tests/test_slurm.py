"""profiles/slurm: what Snakemake makes of it, without a cluster (CI also runs the sample study
through a real one-node SLURM: scripts/slurm/run-sample-on-slurm.sh, called by .ci/run).

* every rule that runs as a job is sized in the profile, and nothing else is;
* the settings reach Snakemake (the workflow profile, read after --profile, does not undo them);
* the resource expressions evaluate for the sample study to the values the formulas give,
  cover the measured peaks in the profile's comment with headroom, and grow with `attempt`.
"""

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from conftest import ROOT, require_extra, write_config
from test_lint import _api

PROFILE = ROOT / "profiles" / "slurm"
SITE_TEMPLATE = ROOT / "profiles" / "site-template"
# peak resident memory (MB) measured on the sample study, from the table in the profile
MEASURED_PEAK_MB = {"preprocess": 365, "synchrony": 404, "windows": 163, "stats": 245, "summary": 276,
                    "provenance": 119, "nulls": 330, "directional": 207, "person": 251,
                    "surrogates": 153, "directional_group": 152, "person_group": 196,
                    "channel_pairs": 324, "ratings": 363, "ratings_group": 183, "pseudo_contrasts": 189,
                    "music": 451, "music_group": 200, "derivatives": 138}
# Rules the sample study does not schedule (an optional sessions-sheet column, or
# output_layout: bids for derivatives, measured on the BIDS end-to-end study).
NOT_IN_SAMPLE = {"ratings", "ratings_group", "music", "music_group", "derivatives"}


@pytest.fixture(scope="module")
def profile():
    return yaml.safe_load((PROFILE / "config.yaml").read_text())


@pytest.fixture(scope="module")
def sample_config(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("slurm")
    return write_config(tmp / "config.yaml", ROOT / "sample_recordings" / "sessions.tsv", tmp / "out")


def test_profile_sizes_exactly_the_job_rules(profile, sample_config):
    rules = _api(sample_config, "rules")
    job_rules = {name for name, r in rules.items() if not r["norun"]}
    assert set(profile["set-resources"]) == job_rules, (
        "size every rule that runs as a SLURM job in profiles/slurm/config.yaml (set-resources, "
        "set-threads), from its benchmarks/<rule>/*.tsv")
    assert set(profile["set-threads"]) == job_rules
    for name in job_rules:
        assert set(profile["set-resources"][name]) == {"mem_mb", "runtime"}, name


def test_settings_reach_snakemake(sample_config):
    require_extra("snakemake_executor_plugin_slurm", "slurm")
    code = textwrap.dedent("""
        import sys
        from snakemake.cli import parse_args
        _, args = parse_args(sys.argv[1:])
        print(repr((args.executor, args.retries, args.latency_wait, args.keep_going, args.jobs,
                    args.slurm_status_command, args.slurm_requeue, args.rerun_incomplete)))
    """)
    proc = subprocess.run([sys.executable, "-c", code, "--profile", str(PROFILE), "--configfile",
                           str(sample_config), "-n"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = eval(proc.stdout.strip().splitlines()[-1])  # a tuple of literals printed above
    assert got == ("slurm", 2, 60, True, 100, "squeue", True, True)


def _size_mb(paths):
    """Snakemake's input.size_mb: total bytes / 1024**2."""
    return sum(Path(p).stat().st_size for p in paths) / 1024**2


def _evaluate(expr, attempt, size_mb):
    return eval(str(expr), {"int": int, "max": max, "min": min},
                {"attempt": attempt, "input": SimpleNamespace(size_mb=size_mb)})


def test_resources_in_a_dry_run_follow_the_formulas(profile, sample_config):
    require_extra("snakemake_executor_plugin_slurm", "slurm")
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
                           "--configfile", str(sample_config), "--profile", str(PROFILE), "-n"],
                          capture_output=True, text=True, cwd=sample_config.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    # job blocks: "rule preprocess:" ... "input: a, b" ... "resources: ..., mem_mb=N, ..., runtime=M"
    blocks = re.findall(r"\nrule (\w+):\n(.*?)\n\n", text, flags=re.S)
    seen, tbd = set(), set()
    for rule, body in blocks:
        if rule == "all":  # the target rule: no job
            continue
        res = dict(re.findall(r"(\w+)=([^,\s]+)", re.search(r"resources: (.*)", body).group(1)))
        inputs = [Path(p) for p in re.search(r"input: (.*)", body).group(1).split(", ")]
        if "<TBD>" in (res["mem_mb"], res["runtime"]):  # inputs made by earlier jobs: sized later
            assert not all(p.exists() for p in inputs)
            tbd.add(rule)
            continue
        size = _size_mb(p for p in inputs if p.exists())  # a dry run counts the missing as 0 MB
        spec = profile["set-resources"][rule]
        assert int(res["mem_mb"]) == _evaluate(spec["mem_mb"], 1, size), (rule, res)
        assert int(res["runtime"]) == _evaluate(spec["runtime"], 1, size), (rule, res)
        assert int(res["mem_mb"]) >= 2 * MEASURED_PEAK_MB[rule], (rule, res["mem_mb"])
        seen.add(rule)
    assert "preprocess" in seen and seen | tbd == set(MEASURED_PEAK_MB) - NOT_IN_SAMPLE


@pytest.mark.parametrize("rule", sorted(MEASURED_PEAK_MB))
def test_a_retry_gets_a_bigger_allocation(profile, rule):
    spec = profile["set-resources"][rule]
    for size in (0.5, 50.0, 2000.0):
        for key in ("mem_mb", "runtime"):
            first, second, third = (_evaluate(spec[key], a, size) for a in (1, 2, 3))
            assert second == 2 * first and third == 3 * first, (rule, key, size)
        assert _evaluate(spec["mem_mb"], 1, size) >= 2 * MEASURED_PEAK_MB[rule]
    # and memory follows the input where the code holds it in memory: a 1-hour, 64-channel
    # session gets more than the sample (provenance hashes in blocks: flat)
    if rule != "provenance":
        assert _evaluate(spec["mem_mb"], 1, 2000.0) > _evaluate(spec["mem_mb"], 1, 2.0)


def test_site_template_layers_over_profiles_slurm(sample_config):
    require_extra("snakemake_executor_plugin_slurm", "slurm")
    template = yaml.safe_load((SITE_TEMPLATE / "config.yaml").read_text())
    assert {"slurm_partition", "slurm_account"} <= set(template["default-resources"])
    assert "slurm-qos" in template
    # as the README says: --profile profiles/slurm, then the site's profile
    code = textwrap.dedent("""
        import sys
        from snakemake.cli import parse_args
        _, args = parse_args(sys.argv[1:])
        print(repr((args.executor, sorted(args.default_resources), sorted(args.set_resources),
                    args.slurm_qos, args.slurm_status_command, args.retries)))
    """)
    proc = subprocess.run([sys.executable, "-c", code, "--profile", str(PROFILE), "--profile", str(SITE_TEMPLATE),
                           "--configfile", str(sample_config), "-n"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    executor, defaults, set_resources, qos, status, retries = eval(proc.stdout.strip().splitlines()[-1])
    assert executor == "slurm" and retries == 2  # from profiles/slurm
    assert {"mem_mb", "runtime", "slurm_partition", "slurm_account"} <= set(defaults)
    assert set(set_resources) == set(MEASURED_PEAK_MB)  # kept from profiles/slurm
    assert (qos, status) == ("CHANGE-qos", "sacct")  # the site's
