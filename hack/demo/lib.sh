# shellcheck shell=bash disable=SC2154
# (root, dir and lc are set by hack/demo.sh.)
# lib.sh: how hack/demo.sh talks to its viewer and starts what it needs. Sourced, not run.
#
# Output: step headers, narration and the commands (as a user would type them) go to
# stderr, as rotor's own progress does; what the commands print as results goes to
# stdout. No Secret value is ever printed: values are random bytes from /dev/urandom,
# handed to rotor on standard input.

bold=$(tput bold 2>/dev/null || true)
dim=$(tput dim 2>/dev/null || true)
reset=$(tput sgr0 2>/dev/null || true)
started_at=$(date +%s)

# step TITLE: a numbered header.
step_no=0
step() {
  step_no=$((step_no + 1))
  printf '\n%s==> %d. %s%s\n' "$bold" "$step_no" "$*" "$reset" >&2
}

# say TEXT...: narration, one line each.
say() {
  local line
  for line in "$@"; do printf '    %s%s%s\n' "$dim" "$line" "$reset" >&2; done
}

# prompt CMD: shows a command line as the user would type it.
prompt() { printf '%s$ %s%s\n' "$bold" "$*" "$reset" >&2; }

# quoted ARGS...: the arguments as a shell would need them typed.
quoted() {
  local out=() a
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then out+=("$a"); else out+=("$(printf '%q' "$a")"); fi
  done
  echo "${out[*]}"
}

# show CMD...: shows the command, then runs it.
show() {
  prompt "$(quoted "$@")"
  "$@"
}

# show_value CMD...: runs CMD with a new random value on standard input, shown as typed.
show_value() {
  prompt "head -c 24 /dev/urandom | base64 | $(quoted "$@")"
  head -c 24 /dev/urandom | base64 | "$@"
}

# refused [--value] CMD...: runs CMD (shown as typed; with --value, a new random value on
# its stdin), which must fail: a refusal is part of the story, not the end of the demo.
# Its stderr is shown, and kept in $dir/refusal for the story to read.
refused() {
  local rc=0
  if [ "$1" = --value ]; then
    shift
    prompt "head -c 24 /dev/urandom | base64 | $(quoted "$@")"
    head -c 24 /dev/urandom | base64 | "$@" 2>"$dir/refusal" || rc=$?
  else
    prompt "$(quoted "$@")"
    "$@" 2>"$dir/refusal" || rc=$?
  fi
  cat "$dir/refusal" >&2
  if [ "$rc" -eq 0 ]; then
    echo "demo: expected this command to be refused, and it was not" >&2
    exit 1
  fi
  say "(refused, exit status $rc: nothing was changed)"
}

# soak_end FILE: the first soak end rotor wrote in FILE (a refusal, a runbook):
# "... its soak ends 2025-07-23T11:00:00Z ..." (or "soaked until", once it has ended).
soak_end() {
  local t
  t=$(grep -oE '(ends|soaked until) [0-9-]+T[0-9:]+Z' "$1" | head -n 1 | awk '{print $NF}')
  if [ -z "$t" ]; then
    echo "demo: $1 does not say when the soak ends" >&2
    exit 1
  fi
  echo "$t"
}

# sleep_until RFC3339: waits until that time has passed (a soak's end, as rotor printed it).
sleep_until() {
  local end now
  end=$(date -d "$1" +%s)
  now=$(date +%s)
  if [ "$end" -ge "$now" ]; then
    say "waiting $((end - now + 1))s, until $1 has passed..."
    sleep $((end - now + 1))
  fi
}

# elapsed: seconds since the demo started.
elapsed() { echo "$(($(date +%s) - started_at))s"; }

# start_prometheus DIR: starts Prometheus and the demo's exporter (hack/demo/metrics) in
# the background; they stop with this shell. Sets prometheus_fd: read its URL from it.
start_prometheus() {
  exec {prometheus_fd}< <(exec "$root/bin/demo-metrics" --dir "$1" --owner-pid $$ 2>"$1.log")
  prometheus_pid=$!
}

# prometheus_url: waits until Prometheus has scraped the exporter once, prints its URL.
prometheus_url() {
  local url
  if ! read -r -u "$prometheus_fd" url; then
    echo "demo: Prometheus did not start:" >&2
    cat "$dir/prometheus.log" >&2
    exit 1
  fi
  echo "$url"
}

# stop_all: stops what the demo started (by PID and state directory) and removes its files.
stop_all() {
  local rc=$?
  printf '\n%s==> Stopping the local control plane and Prometheus%s\n' "$bold" "$reset" >&2
  if [ -n "${prometheus_pid:-}" ]; then kill "$prometheus_pid" 2>/dev/null || true; fi
  "$lc" down --dir "$dir/cluster" 2>&1 | sed 's/^/    /' >&2 || true
  rm -rf "$dir"
  if [ "$rc" -eq 0 ]; then
    printf '%sThe demo took %s.%s\n' "$bold" "$(elapsed)" "$reset" >&2
  else
    printf '%sThe demo FAILED (exit status %d) after %s.%s\n' "$bold" "$rc" "$(elapsed)" "$reset" >&2
  fi
}
