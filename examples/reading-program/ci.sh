#!/bin/sh
# The CI job: a virtual smartphone on the real reading stack (pcscd with vsmartcard's vpcd), the
# reading program run against it, the exchanges checked. Needs kazasu (with the pcsc feature),
# pcscd, vsmartcard-vpcd, python3-pyscard and openssl.
set -eu
kazasu stack up --slots 2
kazasu serve --card android-jpki:suzuki-hanako --script phone.yaml \
    --transcript transcript.jsonl --ready-file ready --duration 60s &
serve=$!
timeout 15 sh -c 'until [ -f ready ]; do sleep 0.1; done'    # pcscd has powered the phone
python3 read_cert.py "Virtual PCD 00 00" 5678 cert.der       # suzuki-hanako's PIN (kazasu identities)
kill "$serve"; wait "$serve" || true                          # the phone leaves; the transcript is complete
kazasu check-transcript transcript.jsonl expect.yaml
openssl x509 -inform DER -in cert.der -noout -subject
kazasu stack down
