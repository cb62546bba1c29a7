"""Capturing SMTP server for development and tests.

Accepts every message for any recipient (no authentication, no TLS) and stores
it as an ``.eml`` file under ``--dir`` (written to a temporary name, then
renamed, so a reader never sees half a message). File names sort in arrival
order: ``<UTC timestamp with microseconds>-<uuid>.eml``.

    python -m deploy.local.smtp_capture --host 127.0.0.1 --port 1025 --dir var/mail
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sys
import threading
import uuid
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger("smtp_capture")


class CaptureHandler:
    def __init__(self, directory: Path, refuse_once: str = "", refuse_while: str = "", delay: float = 0.0):
        self.directory = directory
        # Fault tests: every message gets a transient 451 while this file exists;
        # each DATA is slowed by `delay` seconds (a slow server).
        self.refuse_while = Path(refuse_while) if refuse_while else None
        self.delay = delay
        self.directory.mkdir(parents=True, exist_ok=True)
        # Tests: the first message whose "<recipient> <subject>" matches this
        # pattern bounces (550), later ones are accepted, as a mailbox that was full.
        self.refuse_once = re.compile(refuse_once) if refuse_once else None
        self.refused: set[str] = set()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list
    ) -> str:
        if self.refuse_while is not None and self.refuse_while.exists():
            return "451 4.3.2 Service temporairement indisponible (refus de test)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        headers = BytesHeaderParser(policy=default_policy).parsebytes(data)
        key = f"{','.join(envelope.rcpt_tos)} {headers.get('Subject', '')}"
        if self.refuse_once and self.refuse_once.search(key) and key not in self.refused:
            self.refused.add(key)
            log.info("refused once (test rule): %s", key)
            return "550 5.2.2 Boite pleine (refus de test)"
        name = self.store(data, envelope)
        log.info(
            "captured %s from=%s to=%s subject=%r size=%d",
            name,
            envelope.mail_from,
            ",".join(envelope.rcpt_tos),
            str(headers.get("Subject", "")),
            len(data),
        )
        return "250 Message accepted for delivery"

    def store(self, data: bytes, envelope: Envelope) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        name = f"{stamp}-{uuid.uuid4().hex}.eml"
        tmp = self.directory / f".{name}.tmp"
        # Envelope information that headers may not carry (e.g. Bcc).
        prefix = (
            f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        with open(tmp, "wb") as fh:
            fh.write(prefix)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, self.directory / name)
        return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("SMTP_CAPTURE_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SMTP_CAPTURE_PORT", "1025")))
    parser.add_argument("--dir", default=os.environ.get("SMTP_CAPTURE_DIR", "var/mail"))
    parser.add_argument(
        "--refuse-once",
        default=os.environ.get("SMTP_CAPTURE_REFUSE_ONCE", ""),
        help='regex on "<recipient> <subject>": the first matching message is refused with 550 (tests)',
    )
    parser.add_argument("--refuse-while", default="", help="a file: while it exists, RCPT gets 451 (tests)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each DATA (tests)")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    handler = CaptureHandler(Path(args.dir).resolve(), args.refuse_once, args.refuse_while, args.delay)
    controller = Controller(
        handler,
        hostname=args.host,
        port=args.port,
        auth_require_tls=False,
        decode_data=False,
        data_size_limit=50 * 1024 * 1024,
    )
    controller.start()
    log.info("listening on %s:%d, storing mail in %s", args.host, args.port, handler.directory)

    done = threading.Event()

    def _stop(signum, frame):
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        done.wait()
    finally:
        controller.stop()
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
