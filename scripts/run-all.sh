#!/usr/bin/env bash
# Start the local engines (chat, and embeddings on a second llama.cpp), a django-q2 cluster and
# the web server; Ctrl-C stops them all.
# Called by `make run` after migrate, collectstatic and the demo seed.
#
# Each child runs in a session of its own, so in a process group of its own together with
# whatever it forks (the cluster's workers). The terminal's Ctrl-C therefore reaches only this
# script (and make), and the script stops the children itself: TERM to each, at most
# STOP_GRACE seconds to finish, then KILL to every group. A second Ctrl-C kills them at once.
# When one child exits by itself, the others are stopped the same way.
set -euo pipefail
BIN=${BIN:-.venv/bin}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
ENGINE_PORT=${ENGINE_PORT:-8081}
EMBED_PORT=${EMBED_PORT:-8082}
WORKERS=${WORKERS:-2}
LOG_DIR=${LOG_DIR:-var/log}
STOP_GRACE=${STOP_GRACE:-3}
# Seconds the web server may take to import Dihya and bind; 0 waits as long as it lives. A
# busy 2-core machine takes 10-25 s, so this is a limit for a hung start, not a speed test.
WEB_START_TIMEOUT=${WEB_START_TIMEOUT:-120}
# Where `manage.py demo` wrote the admin password it created (DIHYA_ADMIN_PASSWORD_FILE).
ADMIN_PASSWORD_FILE=${DIHYA_ADMIN_PASSWORD_FILE:-var/admin-password.txt}
mkdir -p "$LOG_DIR"
# Prometheus multiprocess samples (docs/observability.md): every process of this run writes
# there and /metrics adds them up; a previous run's files would be counted again.
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$PWD/var/metrics}
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

children=()  # pids; each is also the id of that child's process group

# spawn LOG COMMAND…: run COMMAND in the background in a new session, output to $LOG_DIR/LOG.
spawn() {
  local log=$1; shift
  "$BIN/python" -c 'import os, sys; os.setsid(); os.execv(sys.argv[1], sys.argv[1:])' "$@" \
    </dev/null >"$LOG_DIR/$log" 2>&1 &
  children+=($!)
}

# terminate_all: TERM to each child alone. Each stops its own processes in order (the cluster
# lets its workers finish); a TERM to the cluster's whole group would kill its workers under it
# and leave it waiting for them forever. A child already gone leaves orphans that nothing
# stops in order (the cluster's workers, when it was killed): its group is killed at once.
terminate_all() {
  local pid
  for pid in "${children[@]}"; do
    kill -TERM "$pid" 2>/dev/null || kill -KILL -- "-$pid" 2>/dev/null || true
  done
}

# kill_all: KILL to each child's whole group, or to the child alone if it has no group yet (it
# was signalled in the instant between its start and its setsid).
kill_all() {
  local pid
  for pid in "${children[@]}"; do
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  done
}

running() {
  local pid
  for pid in "${children[@]}"; do
    if kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null; then return 0; fi
  done
  return 1
}

stop() {
  trap - EXIT
  trap 'echo " killing"; kill_all; exit 130' INT TERM HUP  # a second Ctrl-C
  echo; echo "stopping… (Ctrl-C again to kill at once)"
  terminate_all
  local tenths=$((STOP_GRACE * 10))
  while running && ((tenths-- > 0)); do sleep 0.1; done
  if running; then
    echo "still running after ${STOP_GRACE}s: killing"
    kill_all
  fi
  wait 2>/dev/null || true
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap 'stop; exit 129' HUP
trap stop EXIT

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if port_busy "$ENGINE_PORT"; then
  echo "port $ENGINE_PORT is taken: assuming the local engine already runs there"
else
  spawn engine.log "$BIN/python" manage.py serve_local_engine --port "$ENGINE_PORT"
fi
if port_busy "$EMBED_PORT"; then
  echo "port $EMBED_PORT is taken: assuming the local embedding engine already runs there"
else
  spawn embed.log "$BIN/python" manage.py serve_local_engine --embeddings --slots 2 \
    --port "$EMBED_PORT"
fi
DIHYA_WORKERS=$WORKERS spawn qcluster.log "$BIN/python" manage.py qcluster
if port_busy "$PORT"; then
  echo "port $PORT is taken: stop what runs there, or choose another (make run PORT=8001)"
  exit 1
fi
spawn web.log "$BIN/uvicorn" dihya.asgi:application --host "$HOST" --port "$PORT" \
  --no-access-log --timeout-graceful-shutdown 2
web=${children[-1]}

# wait_for_web: until the web server listens (0), or exits or outlives WEB_START_TIMEOUT (1).
# Waited on the process itself, not a clock: a slow import is only reported while it lasts.
wait_for_web() {
  local started=$SECONDS next=10
  local limit="up to ${WEB_START_TIMEOUT}s"
  ((WEB_START_TIMEOUT > 0)) || limit="no limit"
  echo "starting the web server: importing Dihya, which takes a while on a busy machine" \
    "(WEB_START_TIMEOUT: $limit)…"
  while ! port_busy "$PORT"; do
    if ! kill -0 "$web" 2>/dev/null; then
      echo "the web server exited before it listened on $HOST:$PORT; $LOG_DIR/web.log says:"
      return 1
    fi
    local waited=$((SECONDS - started))
    if ((WEB_START_TIMEOUT > 0 && waited >= WEB_START_TIMEOUT)); then
      echo "the web server did not listen within ${WEB_START_TIMEOUT}s" \
        "(WEB_START_TIMEOUT=0 waits as long as it runs); $LOG_DIR/web.log says:"
      return 1
    fi
    if ((waited >= next)); then
      echo "  still importing (${waited}s)…"
      next=$((next + 10))
    fi
    sleep 0.2
  done
}
if ! wait_for_web; then
  sleep 0.2  # the last lines of a dying process
  tail -40 "$LOG_DIR/web.log" 2>/dev/null || echo "  (no log)"
  exit 1
fi
cat <<TXT

  Dihya is running.
    Admin console   http://$HOST:$PORT/admin/
    Privacy pages   http://$HOST:$PORT/privacy/
    API (OpenAI)    http://$HOST:$PORT/v1        docs: http://$HOST:$PORT/api/v1/docs
    Local engine    http://127.0.0.1:$ENGINE_PORT/v1 (llama.cpp, SmolLM2-135M)
    Embeddings      http://127.0.0.1:$EMBED_PORT/v1 (the same SmolLM2 in embedding mode:
                    a demo embedding model, not a good one; route "embed")
  Logs in $LOG_DIR/. Try:  $BIN/python manage.py generate "Say hello" --route default
  Ctrl-C stops everything.

TXT
# The password `manage.py demo` created, until someone changes it (demo then removes the file).
if [[ -s $ADMIN_PASSWORD_FILE ]]; then
  echo "  Admin login     $(head -n1 "$ADMIN_PASSWORD_FILE")"
  echo "                  (kept in $ADMIN_PASSWORD_FILE, readable by you only, until the"
  echo "                  password is changed: python manage.py changepassword admin)"
  echo
fi
wait -n "${children[@]}" || true
echo "a process exited; stopping the others (see $LOG_DIR/)"
exit 1
