#!/usr/bin/env bash
# The sample study through a real SLURM: stand up the one-node cluster, run
#   .venv/bin/hyperscan run --profile profiles/slurm --configfile <temp config>
# check that every output exists and that every job really ran as a SLURM job, and stop the
# daemons by PID whatever happened. Exit status 0 only if all of that held. Run from anywhere,
# as root, after `make install`; .ci/run calls it after `make test`.
#
# On failure it prints what is needed to tell a SLURM problem from a workflow problem: the
# tails of slurmctld.log and slurmd.log, the SLURM queue, and the SLURM job logs.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
export SLURM_STATE_DIR=${SLURM_STATE_DIR:-/tmp/hyperscan-slurm}
WORK=$(mktemp -d /tmp/hyperscan-slurm-run.XXXXXX)
# seconds the workflow may take before it counts as hung (it takes ~3 min on 2 CPUs)
RUN_TIMEOUT=${SLURM_RUN_TIMEOUT:-900}

say() { echo "[run-sample-on-slurm] $*" >&2; }

diagnose() {
    say "FAILED; diagnostics follow"
    for f in "$SLURM_STATE_DIR"/log/slurmctld.log "$SLURM_STATE_DIR"/log/slurmd.log \
        "$SLURM_STATE_DIR"/munge/munged.log; do
        [ -e "$f" ] && { echo "----- $f (last 60 lines)"; tail -n 60 "$f"; }
    done
    echo "----- sinfo / squeue"
    sinfo -N -l 2>&1 || true
    squeue -t all -o "%.6i %.40k %.10T %.10M %R" 2>&1 || true
    if [ -d "$WORK/slurm_logs" ]; then
        find "$WORK/slurm_logs" -name '*.log' | sort | while read -r f; do
            echo "----- $f (last 30 lines)"
            tail -n 30 "$f"
        done
    fi
    [ -e "$WORK/run.log" ] && { echo "----- hyperscan run (last 80 lines)"; tail -n 80 "$WORK/run.log"; }
}

finish() {
    local status=$?
    [ $status -ne 0 ] && diagnose >&2
    "$ROOT/scripts/slurm/stop-local-slurm.sh" || status=1
    exit $status
}
trap finish EXIT

[ -x .venv/bin/hyperscan ] || { say "no .venv/bin/hyperscan: run 'make install' first"; exit 1; }
"$ROOT/scripts/slurm/start-local-slurm.sh" >/dev/null

# The sample config, writing to a temporary output folder.
OUT="$WORK/out"
.venv/bin/python - "$ROOT/config/config.yaml" "$WORK/config.yaml" "$OUT" <<'EOF'
import sys, yaml
from pathlib import Path
src, dst, out = sys.argv[1:]
cfg = yaml.safe_load(open(src))
# paths in a config resolve against its own folder: the copy lives elsewhere, so the sheet's
# path is made absolute (resolved against the original's folder)
cfg["sessions"] = str((Path(src).resolve().parent / cfg["sessions"]).resolve())
cfg["output_dir"] = out
yaml.safe_dump(cfg, open(dst, "w"))
EOF

say "hyperscan run --profile profiles/slurm (log: $WORK/run.log)"
start=$(date +%s)
if ! timeout "$RUN_TIMEOUT" .venv/bin/hyperscan run --profile profiles/slurm \
    --configfile "$WORK/config.yaml" -- --slurm-logdir "$WORK/slurm_logs" >"$WORK/run.log" 2>&1; then
    say "hyperscan run failed or ran past ${RUN_TIMEOUT}s"
    exit 1
fi
say "workflow finished in $(( $(date +%s) - start )) s"

# 1. every output exists and is not empty
sessions=$(tail -n +2 sample_recordings/sessions.tsv | awk -F'\t' 'NF {print $1 "/" $2}')
n_sessions=$(echo "$sessions" | wc -l)
expected=(group/contrasts.tsv group/dyad_contrasts.tsv group/summary.html group/provenance.json)
for s in $sessions; do
    expected+=("$s/synchrony.nc" "$s/windows.tsv" "$s/preprocessed/client_raw.fif"
               "$s/preprocessed/therapist_raw.fif" "$s/preprocessed/qc.json")
done
for f in "${expected[@]}"; do
    [ -s "$OUT/$f" ] || { say "missing or empty output: $OUT/$f"; exit 1; }
done
say "all ${#expected[@]} outputs present"

# 2. the jobs really ran under SLURM: the controller remembers each (MinJobAge=3600) as
#    COMPLETED with the rule in its comment, and each left a SLURM job log.
declare -A per_rule=([preprocess]=$n_sessions [synchrony]=$n_sessions [windows]=$n_sessions
                     [stats]=1 [summary]=1 [provenance]=1)
queue=$(squeue -h -t all -o "%k %T")
for rule in "${!per_rule[@]}"; do
    done_jobs=$(echo "$queue" | awk -v r="rule_$rule" '($1 == r || index($1, r "_wildcards_") == 1) && $2 == "COMPLETED"' | wc -l)
    logs=$(find "$WORK/slurm_logs/rule_$rule" -name '*.log' 2>/dev/null | wc -l)
    if [ "$done_jobs" -ne "${per_rule[$rule]}" ] || [ "$logs" -lt "${per_rule[$rule]}" ]; then
        say "rule $rule: $done_jobs COMPLETED SLURM jobs and $logs SLURM logs; expected ${per_rule[$rule]}"
        exit 1
    fi
done
say "every job ran as a SLURM job: $(echo "$queue" | grep -c COMPLETED) COMPLETED (one was the start-up probe)"
rm -rf "$WORK"
