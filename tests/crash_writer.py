"""A writer for the crash test: appends forever, printing each acknowledged event.

    python -m tests.crash_writer URL KEY_ID

One line per event, `<originator id> <version>`, written and flushed only after the save
that recorded it returned. The test kills this process with SIGKILL mid-stream.
"""

from __future__ import annotations

import os
import sys
from decimal import Decimal

from ledger.application import open_ledger
from ledger.keys import PASSPHRASE_ENV
from tests.support import Counter


def main(url: str, kid: str) -> None:
    app = open_ledger(url)
    signer = app.signer_for(kid, os.environ[PASSPHRASE_ENV])
    out = sys.stdout
    n = 0
    while True:
        n += 1
        c = Counter(f"crash {os.getpid()} {n}")
        for i in range(n % 7):  # saves of 1 to 7 events
            c.increment(Decimal(i) / 100, f"batch {i}")
        for step in range(2):  # then single-event saves
            recordings = app.save(c, signer=signer)
            out.write("".join(f"{r.domain_event.originator_id} {r.domain_event.originator_version}\n"
                              for r in recordings))
            out.flush()
            c.increment(Decimal("1.00"), f"step {step}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
