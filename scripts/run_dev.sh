#!/usr/bin/env bash
# `make run`: the web server (runserver) and the job worker (manage.py qcluster) side by side.
# Nothing starts when HOST:PORT is taken; the banner shows once the web server answers.
# Ctrl-C, a TERM or HUP to this script (a closed terminal), or either of the two ending stops both; the worker is asked
# to stop cleanly first (it finishes its running task), then killed after 30 seconds. A stop asked for (Ctrl-C, TERM,
# HUP) ends with status 0, so `make run` does not report it as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON_BIN=${PYTHON_BIN:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
STOP_SECONDS=30

web=
worker=

say() {  # a line on stdout, and no complaint when nobody reads it any more (`make run | tee`, tee gone)
  printf '%s\n' "$*" 2>/dev/null || true
}
is_running() {  # pid (a negative one: a process group)
  [ -n "${1#-}" ] && kill -0 -- "$1" 2>/dev/null
}
stop_all() {
  # Nothing may cut the clean-up short: not a second Ctrl-C or HUP (make and a closing terminal
  # signal the whole group again), nor output to a pipe that is already gone (`make run | tee`).
  trap '' INT TERM HUP PIPE
  # runserver: TERM the whole group (the reloader and its child). qcluster: TERM the cluster
  # process only; it stops its sentinel and workers in order.
  local stopped=()
  if is_running "-$web"; then kill -TERM -- "-$web" 2>/dev/null; stopped+=("the web server"); fi
  if is_running "$worker"; then kill -TERM -- "$worker" 2>/dev/null; stopped+=("the job worker"); fi
  local waited=0
  while { is_running "-$web" || is_running "$worker"; } && [ "$waited" -lt $((STOP_SECONDS * 5)) ]; do
    sleep 0.2
    waited=$((waited + 1))
  done
  is_running "-$web" && say "The web server did not stop within $STOP_SECONDS s: killed it."
  is_running "$worker" && say "The job worker did not stop within $STOP_SECONDS s: killed it."
  # Whatever is left of either group (a worker process the cluster lost track of) goes too.
  [ -n "$web" ] && kill -KILL -- "-$web" 2>/dev/null
  [ -n "$worker" ] && kill -KILL -- "-$worker" 2>/dev/null
  case ${#stopped[@]} in
    1) say "Stopped ${stopped[0]}." ;;
    2) say "Stopped ${stopped[0]} and ${stopped[1]}." ;;
  esac
}
trap stop_all EXIT
# A Ctrl-C's "^C" is echoed where the next line would start: begin on a fresh one.
trap '[ -t 1 ] && say; exit 0' INT
trap 'exit 0' TERM HUP

"$PYTHON_BIN" scripts/server_port.py free "$HOST" "$PORT" || exit 1

# Job control: each server runs in its own process group, so stopping one stops all its
# processes (runserver's reloader child, the worker's sentinel and pool) and nothing else.
set -m
"$PYTHON_BIN" manage.py qcluster &
worker=$!
# The banner below says it is a development server; runserver need not shout it in yellow.
DJANGO_RUNSERVER_HIDE_WARNING=true "$PYTHON_BIN" manage.py runserver "$HOST:$PORT" &
web=$!
# Off again: with job control on, a command run in the foreground (the wait below, a sleep)
# gets its own process group and the terminal, and a Ctrl-C would reach it instead of this script.
set +m

"$PYTHON_BIN" scripts/server_port.py wait "$HOST" "$PORT" "$web" "$worker" --timeout 60
case $? in
  0)
    # No blank line first: runserver's own lines end with one.
    cat <<MESSAGE
storemonitor (development server) on http://$HOST:$PORT/ (web server pid $web, job worker pid $worker)
  API docs:           http://$HOST:$PORT/api/docs/
  Create an admin:    $PYTHON_BIN manage.py createsuperuser   (then http://$HOST:$PORT/admin/)
  Stop both:          Ctrl-C

MESSAGE
    ;;
  2)
    say "The web server does not answer on http://$HOST:$PORT/ after 60 s (its messages above may say why)."
    exit 1
    ;;
esac
# 1: one of the two has already ended; the wait below says which.

wait -n "$web" "$worker"
status=$?
say "The $(is_running "$web" && echo "job worker" || echo "web server") exited (status $status)."
exit "$status"
