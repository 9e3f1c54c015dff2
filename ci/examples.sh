#!/usr/bin/env bash
# The examples run as written, as their users run them: each folder of examples/ is copied out
# of the repository and its ./ci.sh runs there with nothing but the kazasu binary added to the
# system's PATH (no checkout, no cargo). Needs pcscd with vpcd (ci/pcscd.sh start); installs the
# Debian packages the examples name.
# Usage: ci/examples.sh path/to/kazasu
set -euo pipefail
bin=$(realpath "${1:?usage: ci/examples.sh path/to/kazasu}")
cd "$(dirname "$0")/.."
ci/install-deps.sh python3-pyscard openssl
for example in examples/*/; do
  name=$(basename "$example")
  work=$(mktemp -d)
  mkdir "$work/bin"
  ln -s "$bin" "$work/bin/kazasu"
  cp -r "$example" "$work/$name"
  echo "== examples/$name: ./ci.sh"
  if ! (cd "$work/$name" && PATH="$work/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin" ./ci.sh) >"$work/out" 2>&1; then
    cat "$work/out" >&2
    echo "examples: examples/$name/ci.sh failed as written" >&2
    exit 1
  fi
  sed 's/^/   /' "$work/out"
  rm -rf "$work"
done
echo "examples: every example's ci.sh ran as written, outside the repository"
