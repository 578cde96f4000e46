# Shared by the cluster's bash scripts: where state lives and how to fail.
# shellcheck shell=bash

SPARKPLANE_CACHE="${SPARKPLANE_CACHE:-$HOME/.cache/sparkplane}"

say() { echo "$(basename "$0"): $*" >&2; }

# die MESSAGE [LOG]: stop with what happened and, when given, the log to read.
die() {
  say "ERROR: $1"
  if [[ -n "${2:-}" ]]; then
    say "log: $2"
    [[ -f "$2" ]] && tail -n 15 "$2" | sed 's/^/    /' >&2
  fi
  exit 1
}

# hold_lock NAME: hold $SPARKPLANE_CACHE/NAME.lock until this script exits, waiting while another
# process holds it, so two runs at once (make test's early builds and a test) do the work once:
# the second finds it done.
hold_lock() {
  mkdir -p "$SPARKPLANE_CACHE"
  exec {SPARKPLANE_LOCK_FD}>"$SPARKPLANE_CACHE/$1.lock"
  flock "$SPARKPLANE_LOCK_FD"
}

# apt options: wait for dpkg's lock (another install running) instead of failing at once.
APT_WAIT_FOR_LOCK=(-o DPkg::Lock::Timeout=900)

# apt_install PACKAGE...: install Debian packages that are missing.
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  say "installing from Debian: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get "${APT_WAIT_FOR_LOCK[@]}" install -y --no-install-recommends "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed; run 'apt-get update' and retry"
}

# wait_until SECONDS COMMAND...: poll COMMAND every half second.
wait_until() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
