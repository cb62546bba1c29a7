"""A capturing SMTP server for the notifications tests (run as a subprocess).

Like deploy/local/smtp_capture.py (one .eml per message, written atomically),
plus answers chosen by the recipient's local part: `reject550...` gets a
permanent 550, `busy451...` a transient 451; `--delay` slows every DATA.
Each message records how many DATA commands were in progress at once when it
arrived (`X-Concurrent-Data`): clients sending over parallel connections.

    python tests/integration/notifications/smtpd_rules.py --port 2525 --dir /tmp/mail [--delay 0.05]
"""

import argparse
import asyncio
import os
import signal
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, directory, delay):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.delay = delay
        self.in_data = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("reject550"):
            return "550 5.1.1 Mailbox unavailable"
        if local.startswith("busy451"):
            return "451 4.7.1 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.in_data += 1
        concurrent = self.in_data
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            concurrent = max(concurrent, self.in_data)
        finally:
            self.in_data -= 1
        data = envelope.original_content or envelope.content
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        name = f"{stamp}-{uuid.uuid4().hex}.eml"
        tmp = self.directory / f".{name}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode())
            fh.write(f"X-Concurrent-Data: {concurrent}\r\n".encode())
            fh.write(data)
        os.rename(tmp, self.directory / name)
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    controller = Controller(
        Handler(args.dir, args.delay), hostname=args.host, port=args.port, decode_data=False
    )
    controller.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()
