#!/usr/bin/env python3
# tlsbench.py: the client side of bench/tls.sh.
#   sessions HOST PORT N tls|plain   N whole sessions one after the other
#                                    (EHLO, [STARTTLS, EHLO,] MAIL, RCPT, DATA
#                                    of 1 kB, QUIT); prints seconds
#   data HOST PORT BYTES tls|plain   one message of BYTES; prints the seconds
#                                    from the first byte of data to the 250
#   idle HOST PORT SECONDS [tls|plain] a session (TLS unless plain) that
#                                    waits SECONDS after its EHLO, then QUIT
import socket, ssl, sys, time

def session(host, port, tls):
    s = socket.create_connection((host, port), timeout=60)
    f = s.makefile("rb")
    def reply():
        while True:
            l = f.readline()
            if not l:
                raise SystemExit("tlsbench.py: connection closed")
            if l[3:4] != b"-":
                return l
    reply()
    s.sendall(b"EHLO bench\r\n"); reply()
    if tls:
        s.sendall(b"STARTTLS\r\n")
        if not reply().startswith(b"220"):
            raise SystemExit("tlsbench.py: STARTTLS refused")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
        f = s.makefile("rb")
        s.sendall(b"EHLO bench\r\n"); reply()
    return s, reply

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "sessions":
    n, tls = int(sys.argv[4]), sys.argv[5] == "tls"
    body = b"Subject: b\r\n\r\n" + b"x" * 1000 + b"\r\n.\r\n"
    t = time.time()
    for i in range(n):
        s, reply = session(host, port, tls)
        s.sendall(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<one@example.net>\r\nDATA\r\n")
        reply(); reply(); reply()
        s.sendall(body); reply()
        s.sendall(b"QUIT\r\n"); reply()
        s.close()
    print("%.3f" % (time.time() - t))
elif mode == "data":
    size, tls = int(sys.argv[4]), sys.argv[5] == "tls"
    line = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_=+:;,./?!*\r\n"
    body = b"Subject: big\r\n\r\n" + line * (size // len(line)) + b".\r\n"
    s, reply = session(host, port, tls)
    s.sendall(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<one@example.net>\r\nDATA\r\n")
    reply(); reply(); reply()
    t = time.time()
    s.sendall(body)
    r = reply()
    el = time.time() - t
    if not r.startswith(b"250"):
        raise SystemExit("tlsbench.py: message refused: %r" % r)
    s.sendall(b"QUIT\r\n"); reply()
    print("%.4f" % el)
elif mode == "idle":
    s, reply = session(host, port, len(sys.argv) < 6 or sys.argv[5] != "plain")
    print("ready", flush=True)
    time.sleep(float(sys.argv[4]))
    s.sendall(b"QUIT\r\n"); reply()
