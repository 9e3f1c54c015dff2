#!/usr/bin/env bash
# Docs that run: every command the guide pages (docs/guide/*.md) show is run, as printed, in the
# order printed, and must exit as the page says (0 unless its comment says `# exits N`); see
# ci/guide-commands.py for what counts as a command. Each page runs in a scratch directory with
# the given binary as `kazasu` on PATH and `scenarios/` and `ci/` of this repository beside it.
# A page about a device CI does not have names it, and the table below says what stands in for
# it: what the page assumes is there (started before its commands) and the name it is given.
# pcscd with vpcd must be running (ci/pcscd.sh start); a page that stops it gets it started again.
# What each page printed is kept in target/guides/PAGE.out.
# Usage: ci/guides.sh path/to/kazasu [PAGE.md ...]   (default: every guide page)
set -euo pipefail
bin=$(realpath "${1:?usage: ci/guides.sh path/to/kazasu [PAGE.md ...]}")
shift
cd "$(dirname "$0")/.."
root=$PWD
pages=("$@")
[ ${#pages[@]} -gt 0 ] || pages=(docs/guide/*.md)

# The reader manufacturer's guide names two physical readers: "ACR1252", with a My Number card
# an operator taps, takes off and taps again, and "ACME R10", the reader being calibrated, with a
# readertest card on it. Served cards stand in for both: a mynumber-card on slot 4 ("Virtual PCD 2
# 00 00") whose serve script is the operator, and a readertest card at real-time pace behind
# typical-424k on slot 5 ("Virtual PCD 2 00 01").
declare -A given=(
  [docs/guide/reader-manufacturer.md]="kazasu serve --card mynumber-card --slot 4 --script scenarios/serve/operator-taps-twice.yaml --duration 60s & kazasu serve --card readertest --reader typical-424k --slot 5 --pace realtime &"
)
declare -A stand_in=(
  [docs/guide/reader-manufacturer.md]='"ACR1252"="Virtual PCD 2 00 00"
"ACME R10"="Virtual PCD 2 00 01"'
)   # one FROM=TO a line

total=0
for page in "${pages[@]}"; do
  ci/pcscd.sh start >/dev/null
  work=$(mktemp -d)
  mkdir "$work/bin"
  ln -s "$bin" "$work/bin/kazasu"
  ln -s "$root/scenarios" "$work/scenarios"
  ln -s "$root/ci" "$work/ci"
  subs=()
  [ -z "${stand_in[$page]:-}" ] || mapfile -t subs <<<"${stand_in[$page]}"
  count=$(python3 ci/guide-commands.py "$page" "${subs[@]}" 2>&1 >"$work/page.sh")
  [ "$count" -gt 0 ] || { echo "guides: $page shows no command" >&2; exit 1; }
  {
    echo 'stop_background() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; }'
    echo 'trap stop_background EXIT'
    if [ -n "${given[$page]:-}" ]; then
      echo "{ ${given[$page]} } >given.log 2>&1   # stands in for the devices the page names"
    fi
    cat "$work/page.sh"
  } >"$work/run.sh"
  echo "guides: $page ($count commands)"
  started=$SECONDS
  if ! (cd "$work" && PATH="$work/bin:$PATH" timeout 600 bash run.sh >page.out 2>&1); then
    echo "guides: $page failed as printed; its last output:" >&2
    tail -40 "$work/page.out" >&2
    exit 1
  fi
  mkdir -p target/guides && cp "$work/page.out" "target/guides/$(basename "$page" .md).out"
  grep -h 'commands ran as printed' "$work/page.out" | sed "s/$/ in $((SECONDS - started)) s/"
  total=$((total + count))
  rm -rf "$work"
done
ci/pcscd.sh start >/dev/null
echo "guides: $total commands of ${#pages[@]} guide pages ran as printed"
