#!/usr/bin/env bash
# `kazasu schema --profile reader|card` checked by a JSON Schema validator that is not kazasu's
# (Debian's python3-jsonschema, draft 2020-12): every built-in reader and card profile (and a
# calibrated reader profile) validates against its schema, and profiles the loader refuses (a
# misspelled field, a word no profile knows, a missing field) are refused by the schema too.
# Usage: ci/profile-schema.sh path/to/kazasu
set -euo pipefail
kazasu=$(realpath "${1:?usage: ci/profile-schema.sh path/to/kazasu}")
cd "$(dirname "$0")/.."
ci/install-deps.sh python3-jsonschema python3-yaml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$kazasu" schema --profile reader >"$work/reader.schema.json"
"$kazasu" schema --profile card >"$work/card.schema.json"
cards=$("$kazasu" profiles | awk '/^card profile/ { on = 1; next } /^reader profile/ { on = 0 } on && NF { print $1 }')
[ "$(wc -w <<<"$cards")" -ge 10 ] || { echo "profile-schema: no built-in card profiles listed" >&2; exit 1; }
mkdir "$work/cards"
for n in $cards; do
  "$kazasu" profiles "$n" >"$work/cards/$n.yaml"
done
sed -e 's/^device: card/device: tablet/' "$work/cards/mynumber-card.yaml" >"$work/cards/bad-device.yaml"
if "$kazasu" run --card "$work/cards/bad-device.yaml" --filter "auth flow fits" >/dev/null 2>&1; then
  echo "profile-schema: the loader took a card profile with device: tablet" >&2; exit 1
fi
names=$("$kazasu" profiles | awk '/^reader profile/ { on = 1; next } on && NF { print $1 }')
[ "$(wc -w <<<"$names")" -ge 4 ] || { echo "profile-schema: no built-in reader profiles listed" >&2; exit 1; }
for n in $names; do
  "$kazasu" profiles "$n" >"$work/$n.yaml"
done
# A profile as a reader manufacturer writes it: measured values, notes.
sed -e 's/sure: modelled/sure: measured/' "$work/typical-424k.yaml" >"$work/measured.yaml"
# Profiles the loader refuses: the schema must refuse them as well.
sed -e 's/^fsdi:/fsdy:/' "$work/typical-424k.yaml" >"$work/bad-field.yaml"
sed -e 's/value: supported/value: maybe/' "$work/typical-424k.yaml" >"$work/bad-word.yaml"
grep -v '^retries:' "$work/typical-424k.yaml" >"$work/bad-missing.yaml"
for bad in bad-field bad-word bad-missing; do
  if "$kazasu" run --reader "$work/$bad.yaml" --filter "auth flow fits" >/dev/null 2>&1; then
    echo "profile-schema: the loader took $bad.yaml" >&2; exit 1
  fi
done
/usr/bin/python3 - "$work" $cards <<'PY'
import json, sys, yaml
from jsonschema import Draft202012Validator
work, names = sys.argv[1], sys.argv[2:]
schema = json.load(open(f"{work}/card.schema.json"))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
for n in names:
    errors = [e.message for e in v.iter_errors(yaml.safe_load(open(f"{work}/cards/{n}.yaml")))]
    if errors:
        sys.exit(f"profile-schema: card profile {n} does not validate: {errors}")
    print(f"profile-schema: card profile {n} validates")
if not list(v.iter_errors(yaml.safe_load(open(f"{work}/cards/bad-device.yaml")))):
    sys.exit("profile-schema: the card schema takes device: tablet, which the loader refuses")
print("profile-schema: card profile bad-device refused")
PY
/usr/bin/python3 - "$work" $names measured <<'PY'
import json, sys, yaml
from jsonschema import Draft202012Validator
work, names = sys.argv[1], sys.argv[2:]
schema = json.load(open(f"{work}/reader.schema.json"))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
for n in names:
    errors = [e.message for e in v.iter_errors(yaml.safe_load(open(f"{work}/{n}.yaml")))]
    if errors:
        sys.exit(f"profile-schema: {n} does not validate: {errors}")
    print(f"profile-schema: {n} validates")
for bad in ["bad-field", "bad-word", "bad-missing"]:
    if not list(v.iter_errors(yaml.safe_load(open(f"{work}/{bad}.yaml")))):
        sys.exit(f"profile-schema: the schema takes {bad}.yaml, which the loader refuses")
    print(f"profile-schema: {bad} refused")
PY
echo "profile-schema: every built-in reader and card profile validates against kazasu schema --profile reader|card"
