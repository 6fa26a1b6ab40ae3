#!/usr/bin/env bash
# Stand up a single-node SLURM cluster on this machine, from Debian's packages, for CI and for
# trying profiles/slurm/ before a lab's real cluster. Needs root and apt (Debian 12: Slurm 22.05).
#
#   scripts/slurm/start-local-slurm.sh      # install (if needed), configure, start; prints the state dir
#   scripts/slurm/stop-local-slurm.sh       # stop the three daemons by the PIDs written here
#
# What it sets up, and why:
#   * no systemd and no cgroups (containers and CI runners have neither): daemons are started by
#     hand, ProctrackType=proctrack/linuxproc, TaskPlugin=task/none;
#   * loopback only: the node and the controller are 127.0.0.1, and
#     CommunicationParameters=NoInAddrAny,NoCtldInAddrAny keeps them from listening on 0.0.0.0;
#   * no accounting database (AccountingStorageType=accounting_storage/none), so `sacct` has
#     nothing to say: profiles/slurm sets `slurm-status-command: squeue` for that reason;
#   * the config lives in /etc/slurm/slurm.conf because slurmd exports SLURM_CONF with that
#     path into every job, whatever the daemons were started with;
#   * the node declares this machine's CPUs and its memory less a headroom, so the SLURM
#     scheduler refuses what this machine could not hold (memory is not enforced: no cgroups).
#
# Environment: SLURM_STATE_DIR (default /tmp/hyperscan-slurm) holds the PID files, logs and
# spool; SLURM_MEM_HEADROOM_MB (default 2048) is kept back from the node's RealMemory.
set -euo pipefail

STATE_DIR=${SLURM_STATE_DIR:-/tmp/hyperscan-slurm}
HEADROOM_MB=${SLURM_MEM_HEADROOM_MB:-2048}
CONF=/etc/slurm/slurm.conf
HERE="$(cd "$(dirname "$0")" && pwd)"

say() { echo "[start-local-slurm] $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs Debian packages and starts daemons)"

# --- 1. packages -------------------------------------------------------------------------------
install_packages() {
    # Keep apt from starting the daemons itself (it would do so with the packaged config, under
    # systemd/init scripts we do not use): a policy-rc.d that answers 101 "action forbidden".
    # An existing policy-rc.d (Docker images ship one) is put back afterwards.
    local policy=/usr/sbin/policy-rc.d saved=""
    if [ -e "$policy" ]; then
        saved=$(mktemp)
        cp -p "$policy" "$saved"
    fi
    restore_policy() {
        if [ -n "$saved" ]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi
    }
    # EXIT, not RETURN: with set -e a failing apt-get ends the script without returning
    trap restore_policy EXIT
    printf '#!/bin/sh\n# temporary, from %s: do not start services during apt-get install\nexit 101\n' \
        "$0" > "$policy"
    chmod 755 "$policy"
    say "apt-get update"
    apt-get update -qq
    say "apt-get install slurmctld slurmd slurm-client munge"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
    restore_policy
    trap - EXIT
}

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    install_packages
fi
for exe in slurmctld slurmd sbatch squeue sinfo munged; do
    command -v "$exe" >/dev/null || die "$exe is missing after apt-get install"
done

# --- 2. a clean state directory; stop what an earlier run of this script left running ----------
if [ -d "$STATE_DIR" ]; then
    SLURM_STATE_DIR="$STATE_DIR" "$HERE/stop-local-slurm.sh" || true
    # a fresh cluster: no job records, logs or spool of the last one
    rm -rf "${STATE_DIR:?}"/{ctld,spool,log,munge} "$STATE_DIR"/probe.out
fi
mkdir -p "$STATE_DIR"/{log,ctld,spool,munge}
chmod 755 "$STATE_DIR"

# --- 3. munge: the authentication every SLURM message carries -----------------------------------
KEY=/etc/munge/munge.key
if [ ! -s "$KEY" ]; then
    say "creating $KEY"
    install -d -m 700 -o munge -g munge /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of="$KEY" status=none
fi
chown munge:munge "$KEY"
chmod 400 "$KEY"
install -d -m 755 -o munge -g munge /run/munge
chown munge:munge "$STATE_DIR/munge"
# munged daemonises and writes its own PID file; it runs as the munge user.
runuser -u munge -- munged --force \
    --pid-file="$STATE_DIR/munge/munged.pid" \
    --log-file="$STATE_DIR/munge/munged.log" \
    --seed-file="$STATE_DIR/munge/munged.seed" \
    || die "munged did not start: $(cat "$STATE_DIR/munge/munged.log" 2>/dev/null)"
cp "$STATE_DIR/munge/munged.pid" "$STATE_DIR/munged.pid"
munge -n | unmunge >/dev/null || die "munge round trip failed"

# --- 4. slurm.conf -------------------------------------------------------------------------------
HOST=$(hostname -s)
CPUS=$(nproc)
TOTAL_MB=$(free -m | awk '/^Mem:/ {print $2}')
REAL_MB=$((TOTAL_MB - HEADROOM_MB))
[ "$REAL_MB" -gt 1024 ] || die "only ${TOTAL_MB} MB of memory; need more than headroom ${HEADROOM_MB} + 1024"
mkdir -p /etc/slurm
if [ -e "$CONF" ] && ! grep -q "^# written by hyperscan scripts/slurm" "$CONF"; then
    cp -p "$CONF" "$STATE_DIR/slurm.conf.before"
    say "kept the previous $CONF as $STATE_DIR/slurm.conf.before"
fi
cat > "$CONF" <<EOF
# written by hyperscan scripts/slurm/start-local-slurm.sh: a one-node cluster on loopback.
ClusterName=hyperscan-local
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
StateSaveLocation=${STATE_DIR}/ctld
SlurmdSpoolDir=${STATE_DIR}/spool
SlurmctldPidFile=${STATE_DIR}/slurmctld.pid
SlurmdPidFile=${STATE_DIR}/slurmd.pid
SlurmctldLogFile=${STATE_DIR}/log/slurmctld.log
SlurmdLogFile=${STATE_DIR}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no systemd, no cgroups
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# no accounting database
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
# schedule cores and memory, so a job's mem_mb and threads are what it is given
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
# squeue (the status check of profiles/slurm, and .ci/run's trace) lists finished jobs this long
MinJobAge=3600
KillWait=10
Waittime=0
NodeName=${HOST} NodeAddr=127.0.0.1 NodeHostname=${HOST} CPUs=${CPUS} RealMemory=${REAL_MB} State=UNKNOWN
PartitionName=local Nodes=${HOST} Default=YES MaxTime=INFINITE State=UP
EOF
chmod 644 "$CONF"

# --- 5. the daemons ------------------------------------------------------------------------------
show_logs() {
    for f in "$STATE_DIR"/log/*.log; do
        [ -e "$f" ] && { echo "----- $f (last 40 lines)" >&2; tail -n 40 "$f" >&2; }
    done
}
trap 'status=$?; if [ $status -ne 0 ]; then show_logs; fi' EXIT

# -c: start clean, with no jobs or node state from an earlier cluster
slurmctld -c -f "$CONF" || die "slurmctld did not start"
slurmd -f "$CONF" || die "slurmd did not start"

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2
    shift 2
    for _ in $(seq "$limit"); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 1
    done
    die "$what did not happen within ${limit}s"
}
wait_for 30 "slurmctld PID file" test -s "$STATE_DIR/slurmctld.pid"
wait_for 30 "slurmd PID file" test -s "$STATE_DIR/slurmd.pid"
wait_for 60 "node ${HOST} becoming idle" \
    bash -c "sinfo -h -N -n '${HOST}' -o '%t' | grep -qx 'idle'"

# A job really runs: submit, wait, read its output.
probe_out="$STATE_DIR/probe.out"
jobid=$(sbatch --parsable -o "$probe_out" -t 1 --mem 100 --wrap 'echo "slurm ok on $(hostname)"')
wait_for 60 "probe job $jobid finishing" bash -c "! squeue -h -j $jobid | grep -q . && test -s '$probe_out'"
grep -q "slurm ok" "$probe_out" || die "probe job wrote: $(cat "$probe_out")"

say "SLURM is up: node ${HOST}, ${CPUS} CPUs, RealMemory=${REAL_MB} MB, partition 'local'"
say "PIDs: munged $(cat "$STATE_DIR/munged.pid"), slurmctld $(cat "$STATE_DIR/slurmctld.pid"), slurmd $(cat "$STATE_DIR/slurmd.pid")"
echo "$STATE_DIR"
