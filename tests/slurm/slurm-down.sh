#!/usr/bin/env bash
# Stop the daemons that tests/slurm/slurm-up.sh started, by the PIDs it recorded in STATE_DIR.
#   bash tests/slurm/slurm-down.sh STATE_DIR
# Running jobs are cancelled first (scancel, bounded by a timeout); each daemon gets SIGTERM, then SIGKILL
# after 10 s. Safe to call twice, or after a failed slurm-up.sh.
STATE=${1:?usage: slurm-down.sh STATE_DIR}
export PATH="$PATH:/usr/sbin"
if [ -f "$STATE/slurm.conf" ] && [ -f "$STATE/slurmctld.bgpid" ] && kill -0 "$(cat "$STATE/slurmctld.bgpid")" 2>/dev/null; then
  SLURM_CONF="$STATE/slurm.conf" timeout 10 scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
fi
for d in slurmd slurmctld munged; do
  f="$STATE/$d.bgpid"
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "$d ($pid) still alive after 10 s, SIGKILL"
      kill -KILL "$pid"
    fi
    echo "stopped $d pid=$pid"
  fi
  rm -f "$f"
done
exit 0
