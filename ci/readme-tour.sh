#!/usr/bin/env bash
# Runs the README's 60-second tour as printed: the ```sh blocks between its <!-- tour --> markers,
# in a scratch directory outside the repository with nothing but the given binary as `kazasu`
# on PATH (no checkout: the sample captures and suites are built in), as a user of the installed
# binary runs it. pcscd with vpcd must be running (`kazasu stack up` in the tour uses it); the
# served cards are removed at the end.
set -euo pipefail
bin=$(realpath "${1:?usage: ci/readme-tour.sh path/to/kazasu}")
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
cleanup() {
  pkill -f "^kazasu serve --card mynumber-card --card readertest --transcript serve.jsonl" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/bin"
ln -s "$bin" "$work/bin/kazasu"
sed -n '/<!-- tour -->/,/<!-- \/tour -->/p' README.md \
  | awk '/^```sh$/ { on = 1; next } /^```$/ { on = 0 } on' > "$work/tour.sh"
[ "$(grep -c '^kazasu ' "$work/tour.sh")" -ge 6 ] || { echo "readme-tour: no tour found in README.md" >&2; exit 1; }
cd "$work"
export PATH="$work/bin:$PATH"
if ! bash -euo pipefail -x tour.sh > tour.out 2>&1; then
  echo "readme-tour: the README's tour failed as printed:" >&2
  tail -30 tour.out >&2
  exit 1
fi
grep -q "X.509 Certificate \[User Authentication Certificate\]" tour.out \
  || { echo "readme-tour: OpenSC did not read the served card's certificate" >&2; tail -30 tour.out >&2; exit 1; }
grep -q "passed" tour.out || { echo "readme-tour: no run summary" >&2; exit 1; }
grep -q "wrote pulled-away.yaml" tour.out || { echo "readme-tour: the import wrote nothing" >&2; exit 1; }
echo "readme-tour: every command of the README's tour ran as printed"
