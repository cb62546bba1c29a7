"""Reading the mail captured by deploy/local/smtp_capture.py (one .eml file per message)."""

from __future__ import annotations

import time
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

Predicate = Callable[[EmailMessage], bool]


def _text(msg: EmailMessage) -> str:
    """Plain-text body (or the first text part) of a message, '' when none."""
    part = msg.get_body(preferencelist=("plain", "html"))
    try:
        return part.get_content() if part is not None else ""
    except Exception:
        return ""


def summary(msg: EmailMessage) -> str:
    return f"to={msg.get('To', '')!s} subject={msg.get('Subject', '')!s}"


class Mailbox:
    """The .eml files of one capture directory, in arrival order (file names sort by time)."""

    def __init__(self, directory: Path | str):
        self.path = Path(directory)

    def files(self) -> list[Path]:
        if not self.path.exists():
            return []
        return sorted(p for p in self.path.glob("*.eml") if not p.name.startswith("."))

    def messages(self) -> list[EmailMessage]:
        parser = BytesParser(policy=policy.default)
        out = []
        for p in self.files():
            with open(p, "rb") as fh:
                out.append(parser.parse(fh))
        return out

    def count(self, predicate: Predicate | None = None) -> int:
        msgs = self.messages()
        return len(msgs) if predicate is None else sum(1 for m in msgs if predicate(m))

    def wait_for(
        self, predicate: Predicate | None = None, timeout: float = 30, interval: float = 0.2
    ) -> list[EmailMessage]:
        """Every matching message, once at least one matches; AssertionError on timeout."""
        predicate = predicate or (lambda m: True)
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages()
            found = [m for m in msgs if predicate(m)]
            if found:
                return found
            if time.monotonic() > deadline:
                listing = "\n".join("  " + summary(m) for m in msgs[-20:]) or "  (none)"
                raise AssertionError(
                    f"no captured mail matched within {timeout}s; {len(msgs)} message(s) in "
                    f"{self.path}, the last ones:\n{listing}"
                )
            time.sleep(interval)

    # Handy predicates: stack.mail.wait_for(Mailbox.to("mairie@x.fr"))
    @staticmethod
    def to(address: str) -> Predicate:
        address = address.lower()
        return lambda m: (
            address in str(m.get("To", "")).lower() or address in str(m.get("X-Envelope-To", "")).lower()
        )

    @staticmethod
    def subject_contains(text: str) -> Predicate:
        return lambda m: text.lower() in str(m.get("Subject", "")).lower()

    text = staticmethod(_text)
