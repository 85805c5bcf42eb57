"""A real SMTP server for Outpost's tests (aiosmtpd).

Modes: starttls (STARTTLS required, AUTH only after TLS), tls (implicit TLS)
or plain (no TLS at all, AUTH accepted in plain text: a server an attacker
would point a client at).
Every accepted message is written to OUTDIR/N.eml with N.json beside it
(envelope sender, recipients, whether TLS and AUTH were used); every AUTH
attempt, with the credentials it carried, is appended to OUTDIR/auth.jsonl.
Recipients starting with "nobody@" get 550, "busy@" get 452.
Prints "READY" once it accepts connections.
"""
import argparse
import json
import logging
import os
import ssl
import sys
import time
import warnings

warnings.simplefilter("ignore")
logging.getLogger("mail.log").setLevel(logging.ERROR)

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        if address.startswith("busy@"):
            return "452 4.2.2 mailbox full, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.outdir, str(self.count))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".json", "w") as f:
            json.dump({
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "tls": server.transport.get_extra_info("ssl_object") is not None,
                "auth": session.authenticated,
            }, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 Ok: queued as OUTPOST%d" % self.count


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=["starttls", "tls", "plain"], required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--outdir", required=True)
    a = p.parse_args()

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == a.user
              and auth_data.password.decode() == a.password)
        with open(os.path.join(a.outdir, "auth.jsonl"), "a") as f:
            seen = auth_data if isinstance(auth_data, LoginPassword) else None
            f.write(json.dumps({
                "mechanism": mechanism,
                "login": seen.login.decode(errors="replace") if seen else None,
                "password": seen.password.decode(errors="replace") if seen else None,
            }) + "\n")
        return AuthResult(success=ok, handled=False)

    common = dict(hostname="127.0.0.1", port=a.port, authenticator=authenticator,
                  auth_required=True)
    if a.mode == "starttls":
        controller = Controller(Handler(a.outdir), tls_context=ctx, require_starttls=True,
                                auth_require_tls=True, **common)
    elif a.mode == "plain":
        controller = Controller(Handler(a.outdir), auth_require_tls=False, **common)
    else:
        # The whole connection is TLS; aiosmtpd only tracks STARTTLS for
        # auth_require_tls, so it must be off here.
        controller = Controller(Handler(a.outdir), ssl_context=ctx, auth_require_tls=False, **common)
    controller.start()
    print("READY", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
