#!/usr/bin/env bash
# Stop the single-node SLURM that start-local-slurm.sh started: slurmd, slurmctld, munged, each
# by the PID in its file under SLURM_STATE_DIR (default /tmp/hyperscan-slurm) -- never by name,
# so a lab's own daemons on the same machine are left alone. TERM, then KILL after 15 s.
# Leaves /etc/slurm/slurm.conf and the logs in place for reading. Exit 0 once none is running.
set -uo pipefail

STATE_DIR=${SLURM_STATE_DIR:-/tmp/hyperscan-slurm}

say() { echo "[stop-local-slurm] $*" >&2; }

stop_pid_file() {  # stop_pid_file NAME FILE
    local name=$1 file=$2 pid
    [ -s "$file" ] || { say "$name: no PID file ($file)"; return 0; }
    pid=$(tr -dc '0-9' < "$file")
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
        say "$name: PID ${pid:-?} is not running"
        rm -f "$file"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || { say "$name (PID $pid) stopped"; rm -f "$file"; return 0; }
        sleep 0.5
    done
    say "$name (PID $pid) ignored TERM for 15 s; sending KILL"
    kill -KILL "$pid" 2>/dev/null
    sleep 1
    if kill -0 "$pid" 2>/dev/null; then
        say "$name (PID $pid) is still running"
        return 1
    fi
    rm -f "$file"
}

rc=0
stop_pid_file slurmd "$STATE_DIR/slurmd.pid" || rc=1
stop_pid_file slurmctld "$STATE_DIR/slurmctld.pid" || rc=1
stop_pid_file munged "$STATE_DIR/munged.pid" || rc=1
exit $rc
