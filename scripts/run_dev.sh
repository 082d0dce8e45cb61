#!/usr/bin/env bash
# `make run`: the web server (runserver) and the job worker (manage.py qcluster) side by side.
# Ctrl-C, a TERM or HUP to this script (a closed terminal), or either of the two ending stops both; the worker is asked
# to stop cleanly first (it finishes its running task), then killed after 30 seconds.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON_BIN=${PYTHON_BIN:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

# Job control: each server runs in its own process group, so stopping one stops all its
# processes (runserver's reloader child, the worker's sentinel and pool) and nothing else.
set -m
"$PYTHON_BIN" manage.py qcluster &
worker=$!
"$PYTHON_BIN" manage.py runserver "$HOST:$PORT" &
web=$!

stop() {  # name, pid to send TERM to, process group to kill if it is still there after 30 s
  kill -0 -- "$2" 2>/dev/null || return 0
  echo "Stopping the $1 (pid $2)..."
  kill -TERM -- "$2" 2>/dev/null
  for _ in $(seq 60); do kill -0 -- "$2" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$3" 2>/dev/null || true
}
stop_all() {
  # Nothing may cut the clean-up short: not a second Ctrl-C or HUP (make and a closing terminal
  # signal the whole group again), nor output to a pipe that is already gone (`make run | tee`).
  trap '' INT TERM HUP PIPE
  # runserver: TERM the whole group (the reloader and its child). qcluster: TERM the cluster
  # process only; it stops its sentinel and workers in order.
  stop "web server" "-$web" "$web"
  stop "job worker" "$worker" "$worker"
}
trap stop_all EXIT
trap 'exit 0' INT TERM HUP

cat <<MESSAGE

storemonitor on http://$HOST:$PORT/ (web server pid $web, job worker pid $worker)
  API docs:           http://$HOST:$PORT/api/docs/
  Create an admin:    $PYTHON_BIN manage.py createsuperuser   (then http://$HOST:$PORT/admin/)
  Stop both:          Ctrl-C

MESSAGE

wait -n "$web" "$worker"
status=$?
echo "The $(kill -0 "$web" 2>/dev/null && echo "job worker" || echo "web server") exited (status $status)."
exit "$status"
