"""`kazasu serve` for the pyscard checks of kazasu's pcscd driver (part10-check.py,
kill-check.py, reader-fault-check.py): one card on a slot with a serve script, started and
waited for (its ready file), its log and transcript in a folder of its own; `fail` ends the check
and every card it served."""
import os
import subprocess
import sys
import tempfile
import time

_SERVED = []


def fail(check, msg):
    """Ends `check` with `msg`, stopping whatever it served."""
    print(f"{check}: {msg}", file=sys.stderr)
    for served in _SERVED:
        if served.proc.poll() is None:
            served.proc.kill()
    sys.exit(1)


class Served:
    """`kazasu serve` of `card` on `slot`, the serve script `script` (YAML text), `args` more."""

    def __init__(self, check, kazasu, slot, script, card="mynumber-card", args=()):
        self.check = check
        self.dir = tempfile.mkdtemp()
        path = os.path.join(self.dir, "script.yaml")
        with open(path, "w") as f:
            f.write(script)
        self.ready = os.path.join(self.dir, "ready")
        self.transcript = os.path.join(self.dir, "transcript.jsonl")
        self.log = os.path.join(self.dir, "serve.log")
        self.proc = subprocess.Popen(
            [kazasu, "serve", "--card", card, "--slot", str(slot), "--script", path,
             "--ready-file", self.ready, "--transcript", self.transcript, "--duration", "60s",
             *args],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        _SERVED.append(self)
        deadline = time.monotonic() + 20
        while not os.path.exists(self.ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                fail(check, "serve never became ready: " + open(self.log).read())
            time.sleep(0.02)

    def stop(self):
        """Stops serving (SIGTERM), within 10 s."""
        self.proc.terminate()
        self.proc.wait(10)
