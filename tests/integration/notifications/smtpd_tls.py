"""An SMTP server with TLS and AUTH for the transport-security tests (run as a
subprocess: aiosmtpd's asyncio thread does not mix with eventlet).

    python tests/integration/notifications/smtpd_tls.py --port 2525 --dir /tmp/x \
        --pem server.pem --mode starttls|smtps --user u --password p

STARTTLS mode requires STARTTLS before anything else and refuses AUTH without
it; smtps mode is TLS from the first byte. Every AUTH attempt is appended to
<dir>/auth.log (`user tls=True|False`), every message to <dir>/<uuid>.eml.
"""

import argparse
import signal
import ssl
import threading
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, directory):
        self.directory = Path(directory)

    async def handle_DATA(self, server, session, envelope):
        (self.directory / f"{uuid.uuid4().hex}.eml").write_bytes(envelope.original_content or b"")
        return "250 Message accepted for delivery"


def authenticator(directory, user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            user.encode(),
            password.encode(),
        )
        login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?"
        with open(Path(directory) / "auth.log", "a") as fh:
            tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
            fh.write(f"{login} tls={tls}\n")
        return AuthResult(success=ok)

    return check


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--pem", required=True)
    parser.add_argument("--mode", choices=["starttls", "smtps"], required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.pem)
    options = dict(
        hostname=args.host,
        port=args.port,
        decode_data=False,
        authenticator=authenticator(args.dir, args.user, args.password),
        auth_require_tls=True,
    )
    if args.mode == "starttls":
        options.update(tls_context=context, require_starttls=True)
    else:  # implicit TLS: aiosmtpd only counts STARTTLS for auth_require_tls
        options.update(ssl_context=context, auth_require_tls=False)
    controller = Controller(Handler(args.dir), **options)
    controller.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()
