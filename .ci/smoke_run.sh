#!/usr/bin/env bash
# Smoke test of `make run` on the embedded default (SQLite + Celery filesystem broker):
# start it in its own process group, wait for the web process, log in as demo / demo and
# check the order center (.ci/smoke_run.py), check that the Celery worker and beat are up,
# then stop everything and prove that no process is left behind.
set -euo pipefail
cd "$(dirname "$0")/.."

unset DATABASE_URL REDIS_URL
ZOPI_RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/zopi-smoke.XXXXXX")"
export ZOPI_RUN_DIR
LOG="$ZOPI_RUN_DIR/make-run.log"
START_TIMEOUT="${SMOKE_START_TIMEOUT:-180}"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT="${SMOKE_PORT:-8765}"
if ! port_free "$PORT"; then
  PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
fi
URL="http://127.0.0.1:$PORT"

# Every process under make (honcho gives each Procfile process a session of its own, so the
# process group alone does not reach them): walk the parent links from make's pid.
descendants() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2; pids[NR] = $1 }
    END {
      keep[root] = 1
      do {
        changed = 0
        for (i in pids) { p = pids[i]; if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } }
      } while (changed)
      for (p in keep) print p
    }'
}

MAKE_PID=""
SEEN_PIDS=""
LEFT=""
remember_processes() {
  if [ -n "$MAKE_PID" ]; then
    SEEN_PIDS="$(printf '%s\n%s\n' "$SEEN_PIDS" "$(descendants "$MAKE_PID")" | sort -un)"
  fi
}
# A pid that still exists and is not a zombie (make is our child: dead, it lingers unreaped).
alive() {
  local p
  for p in $SEEN_PIDS; do
    [ -r "/proc/$p/stat" ] || continue
    [ "$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1)" = Z ] && continue
    echo "$p"
  done
  true
}

stop_all() {
  [ -n "$MAKE_PID" ] || return 0
  remember_processes
  kill -TERM -- "-$MAKE_PID" 2>/dev/null || true   # make, honcho and its helpers: honcho stops its children
  for _ in $(seq 1 40); do [ -z "$(alive)" ] && break; sleep 0.5; done
  LEFT="$(alive)"   # read by the caller: non-empty means something outlived SIGTERM
  if [ -n "$LEFT" ]; then
    echo "smoke: still running 20 s after SIGTERM, killing:"
    ps -o pid,ppid,pgid,args -p "$(paste -sd, - <<<"$LEFT")" || true
    # shellcheck disable=SC2086
    kill -KILL $LEFT 2>/dev/null || true
  fi
  wait "$MAKE_PID" 2>/dev/null || true
  MAKE_PID=""
}

show_log() { echo "----- make run output (last 80 lines) -----"; tail -n 80 "$LOG" || true; echo "-------------------------------------------"; }
die() { echo "smoke: FAIL: $*" >&2; show_log; exit 1; }
trap 'stop_all' EXIT
trap 'echo "smoke: FAIL: unexpected error on line $LINENO" >&2' ERR

# make run keeps its state in ZOPI_RUN_DIR: it must leave nothing new in the work tree.
work_tree_files() { { git status --porcelain --untracked-files=all 2>/dev/null || true; } | sort; }
BEFORE="$(work_tree_files)"

echo "smoke: make run on port $PORT, ZOPI_RUN_DIR=$ZOPI_RUN_DIR"
set -m   # job control: the background job gets a process group of its own (pgid = its pid)
make run PORT="$PORT" </dev/null >"$LOG" 2>&1 &
MAKE_PID=$!
set +m

# 1. The web process answers (bounded).
deadline=$((SECONDS + START_TIMEOUT))
until python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$URL/healthz" 2>/dev/null; do
  kill -0 "$MAKE_PID" 2>/dev/null || die "make run exited before $URL answered"
  [ "$SECONDS" -lt "$deadline" ] || die "$URL/healthz did not answer within ${START_TIMEOUT}s"
  sleep 1
done
echo "smoke: $URL answers after ${SECONDS}s"

# 2. Log in as demo / demo; every tab has orders.
.venv/bin/python .ci/smoke_run.py "$URL" || die "the order center check failed"

# 3. Worker and beat started and are still running.
deadline=$((SECONDS + 90))
until grep -q 'worker.1 .*celery@.* ready\.' "$LOG" && grep -q 'beat.1 .*beat: Starting\.\.\.' "$LOG"; do
  [ "$SECONDS" -lt "$deadline" ] || die "the worker's 'ready.' and beat's 'beat: Starting...' lines did not both appear"
  sleep 1
done
remember_processes
sleep 3   # a process that crashes right after starting would show now
RUNNING="$(ps -o args= -p "$(alive | paste -sd, -)" || true)"
grep -q 'celery -A zopi worker' <<<"$RUNNING" || die "the Celery worker is not running"
grep -q 'celery -A zopi beat' <<<"$RUNNING" || die "Celery beat is not running"
grep -q 'manage.py runserver' <<<"$RUNNING" || die "the web process is not running"
if grep -Eq '^[0-9:]+ system +\| .* stopped' "$LOG"; then die "a process stopped while running"; fi
grep -q "Zopi order center is up: $URL/" "$LOG" || die "make run did not announce $URL/"
echo "smoke: web, worker (ready) and beat (started) are running"

# 4. Stop everything; nothing may be left.
remember_processes
stop_all
[ -z "$LEFT" ] || die "processes outlived SIGTERM (killed now): $LEFT"
[ -z "$(alive)" ] || die "processes left behind after stopping make run: $(alive)"
echo "smoke: make run stopped cleanly, no process left behind"
NEW_FILES="$(comm -13 <(echo "$BEFORE") <(work_tree_files))"
[ -z "$NEW_FILES" ] || die "make run left files in the work tree (they belong in ZOPI_RUN_DIR): $NEW_FILES"
rm -rf "$ZOPI_RUN_DIR"
