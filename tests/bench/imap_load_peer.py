#!/usr/bin/env python3
"""A minimal IMAPS endpoint for tests/bench/idle_bench.py, and nothing more than a load peer: it accepts any
AUTHENTICATE PLAIN / LOGIN, SELECTs an empty mailbox of any name and holds IDLE, so that 10,000 idle sessions cost
the provider side little (the rig's Dovecot forks one process per session and would break first). Its control port
takes "WAKE name..." (send "* 1 EXISTS" to the sessions that selected those mailboxes) and "COUNT".

    python3 imap_load_peer.py --port P --control-port C --cert PEM --key PEM
Prints "ready" on stdout once both ports listen. Traffic stays on 127.0.0.1."""

import argparse
import asyncio
import resource
import ssl
import sys

CAPABILITY = b"IMAP4rev1 SASL-IR AUTH=PLAIN IDLE"


class LoadPeer:
    def __init__(self):
        self.idling = {}  # mailbox name -> writer of the session that IDLEs in it

    async def session(self, reader, writer):
        mailbox = None
        try:
            writer.write(b"* OK [CAPABILITY " + CAPABILITY + b"] load peer ready\r\n")
            while True:
                line = await reader.readline()
                if not line:
                    break
                tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
                verb, _, args = rest.partition(b" ")
                verb = verb.upper()
                if verb in (b"AUTHENTICATE", b"LOGIN"):
                    writer.write(tag + b" OK [CAPABILITY " + CAPABILITY + b"] logged in\r\n")
                elif verb == b"CAPABILITY":
                    writer.write(b"* CAPABILITY " + CAPABILITY + b"\r\n" + tag + b" OK done\r\n")
                elif verb in (b"SELECT", b"EXAMINE"):
                    mailbox = args.strip().strip(b'"')
                    writer.write(b"* 0 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1] ok\r\n* OK [UIDNEXT 1] ok\r\n"
                                 b"* FLAGS (\\Seen)\r\n" + tag + b" OK [READ-WRITE] selected\r\n")
                elif verb == b"IDLE":
                    writer.write(b"+ idling\r\n")
                    if mailbox is not None:
                        self.idling[mailbox] = writer
                    done = await reader.readline()
                    self.idling.pop(mailbox, None)
                    if not done:
                        break
                    writer.write(tag + b" OK IDLE done\r\n")
                elif verb == b"LOGOUT":
                    writer.write(b"* BYE bye\r\n" + tag + b" OK logged out\r\n")
                    await writer.drain()
                    break
                elif verb == b"NOOP":
                    writer.write(tag + b" OK noop\r\n")
                else:
                    writer.write(tag + b" BAD not in this load peer\r\n")
                await writer.drain()
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            if mailbox is not None and self.idling.get(mailbox) is writer:
                del self.idling[mailbox]
            writer.close()

    async def control(self, reader, writer):
        while line := await reader.readline():
            words = line.split()
            if words and words[0] == b"WAKE":
                woken = 0
                for name in words[1:]:
                    w = self.idling.get(name)
                    if w is not None:
                        w.write(b"* 1 EXISTS\r\n")
                        woken += 1
                writer.write(b"OK %d\n" % woken)
            elif words and words[0] == b"COUNT":
                writer.write(b"OK %d\n" % len(self.idling))
            else:
                writer.write(b"BAD\n")
            await writer.drain()
        writer.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    peer = LoadPeer()
    imaps = await asyncio.start_server(peer.session, "127.0.0.1", args.port, ssl=context, backlog=4096)
    control = await asyncio.start_server(peer.control, "127.0.0.1", args.control_port)
    print("ready", flush=True)
    async with imaps, control:
        await asyncio.gather(imaps.serve_forever(), control.serve_forever())


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
