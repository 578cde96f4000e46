# Shared helpers for the project's shell scripts. Source it; it defines functions only.

# Everything heavy lives outside the clone, keyed by version, so a fresh clone reuses it.
SPARKPLANE_CACHE=${SPARKPLANE_CACHE:-$HOME/.cache/sparkplane}
UV_VERSION=0.13.8

# The package index is reached through a TLS-intercepting proxy on some machines: make uv
# trust the system certificate store (which carries that authority) instead of its own roots.
export UV_NATIVE_TLS=1

die() { echo "error: $*" >&2; exit 1; }

# Print the path of a uv binary at the pinned version, installing it into the cache if needed.
ensure_uv() {
  local tool_venv="$SPARKPLANE_CACHE/uv-$UV_VERSION"
  if [ ! -x "$tool_venv/bin/uv" ]; then
    command -v python3.11 >/dev/null || die "python3.11 is required (the platform pins Python 3.11); install it and retry."
    python3.11 -m venv "$tool_venv" >&2
    "$tool_venv/bin/pip" install --quiet "uv==$UV_VERSION" >&2 \
      || die "could not install uv $UV_VERSION from the package index (see the pip output above)."
  fi
  echo "$tool_venv/bin/uv"
}
