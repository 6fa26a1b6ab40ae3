"""The workflow keeps the house rules as rules are added: every job has a log, a benchmark
and declared resources; `snakemake --lint` finds nothing but the one documented exception;
the Snakefiles are snakefmt-formatted."""

import json
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT, write_config

# No lint is accepted: every rule names workflow/envs/hyperscan.yaml for --use-conda users.
ACCEPTED_LINTS = set()

# Loads the workflow with Snakemake's API in a fresh interpreter (the API changes the working
# directory) and prints, per rule, what the tests below check -- or the lints as JSON
# (`snakemake --lint json` on the command line prints text in Snakemake 9.27; the API does not).
SNAKEMAKE_API = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

    with SnakemakeApi(OutputSettings()) as api:
        wf = api.workflow(resource_settings=ResourceSettings(),
                          config_settings=ConfigSettings(configfiles=[Path(sys.argv[2])]),
                          snakefile=Path(sys.argv[1]), workdir=Path(sys.argv[3]))
        if sys.argv[4] == "lint":
            print("LINTS=", end="")
            wf.lint(json=True)
            sys.exit(0)
        workflow = wf._workflow
        rules = {r.name: {"log": [str(x) for x in r.log],
                          "benchmark": None if r.benchmark is None else str(r.benchmark),
                          "resources": sorted(k for k in r.resources if not k.startswith("_")),
                          "local": workflow.is_local(r), "norun": r.norun}
                 for r in workflow.rules}
    print("RULES=" + json.dumps(rules))
""")


@pytest.fixture(scope="module")
def sample_config(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lint")
    return write_config(tmp / "config.yaml", ROOT / "sample_recordings" / "sessions.tsv", tmp / "out")


def _api(sample_config, mode):
    proc = subprocess.run([sys.executable, "-c", SNAKEMAKE_API, str(ROOT / "Snakefile"), str(sample_config),
                           str(sample_config.parent), mode], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    prefix = "LINTS=" if mode == "lint" else "RULES="
    text = proc.stdout[proc.stdout.index(prefix) + len(prefix):]
    return json.JSONDecoder().raw_decode(text.lstrip())[0]


@pytest.fixture(scope="module")
def rules(sample_config):
    return _api(sample_config, "rules")


def test_every_job_rule_has_log_benchmark_and_resources(rules):
    jobs = {name: r for name, r in rules.items() if not r["norun"]}
    assert {"preprocess", "synchrony", "windows", "stats", "summary", "provenance"} <= set(jobs)
    assert rules["all"]["norun"]  # the target rule only collects
    problems = []
    for name, r in sorted(jobs.items()):
        if not r["log"]:
            problems.append(f"rule {name}: no log:")
        if not r["benchmark"]:
            problems.append(f"rule {name}: no benchmark:")
        elif "/benchmarks/" not in r["benchmark"]:
            problems.append(f"rule {name}: benchmark {r['benchmark']} is not under output_dir/benchmarks/")
        for res in ("mem_mb", "runtime"):
            if res not in r["resources"]:
                problems.append(f"rule {name}: resources: has no {res}")
    assert not problems, "\n".join(problems)


def test_snakemake_lint_is_clean(sample_config):
    report = _api(sample_config, "lint")
    found = []
    for item in report["snakefiles"] + report["rules"]:
        found += [(lint["title"], item["for"]) for lint in item["lints"]]
    unexpected = [f for f in found if f[0] not in ACCEPTED_LINTS]
    assert not unexpected, unexpected
    assert found == []


def test_snakefiles_are_snakefmt_clean():
    # `python -m snakefmt` would import black -> pathspec, whose optional backend probes
    # `import hyperscan` for Intel's regex library of the same name and finds this package;
    # hiding it (ModuleNotFoundError) makes pathspec fall back to its pure-Python backend.
    code = ("import sys; sys.modules['hyperscan'] = None; "
            "from snakefmt.snakefmt import main; sys.exit(main())")
    files = [str(ROOT / "Snakefile"), str(ROOT / "workflow")]
    proc = subprocess.run([sys.executable, "-c", code, "--check", "--diff", *files],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


@pytest.mark.parametrize("key,default,other,read_back", [
    ("backend", "cpu", "cupy", "hyperscan.gpu:config_backend"),
    ("dtype", "float64", "float32", "hyperscan.synchrony:config_dtype"),
])
def test_later_keys_at_their_default_are_not_params(key, default, other, read_back):
    """A synchrony key added after the first release (``LATER_KEYS`` in rules/common.smk) is
    left out of the rules' params at its default, so a study computed before the option
    existed does not rerun synchrony and nulls on upgrade; another value is a param
    (switching reruns them). The stage reads the absent key back as the default."""
    import importlib

    from hyperscan.provenance import config_subset

    module, name = read_back.split(":")
    reader = getattr(importlib.import_module(module), name)
    common = (ROOT / "workflow" / "rules" / "common.smk").read_text()
    start = common.index("#: Keys added after the first release")
    source = common[start:common.index("\n\n\ndef ", common.index("def cfg(", start))]
    for value, kept in ((default, False), (other, True)):
        config = {"synchrony": {"method": "hilbert", key: value}, "stats": {"seed": 1}}
        scope = {"config": config, "config_subset": config_subset}
        exec(source, scope)  # noqa: S102 - the rule file's own function
        for keys in (("synchrony",), (f"synchrony.{key}", "synchrony.method")):
            view = scope["cfg"](*keys)
            assert (key in view["synchrony"]) is kept, (value, keys)
            assert reader(view) == value  # read back, never refused as undeclared
            assert view["synchrony"]["method"] == "hilbert"
