#!/usr/bin/env python3
# tlssmtp.py: a scripted SMTP client for the STARTTLS tests: each step is one
# argument, done in order; every reply read is printed as it came (CRLF kept
# off), with "TLS version cipher" when the handshake is done.
# usage: tlssmtp.py HOST PORT STEP...
#   >TEXT      send TEXT (\r \n and \\ understood) in one write
#   <          read one whole reply (its lines) and print it
#   <@         the same, then "REPLY after MS ms": the time since the last send
#   tls[=NAME] the TLS handshake (any certificate taken; SNI NAME if given)
#   file=PATH  send the file's bytes in one go
#   sleep=S    wait S seconds
#   eof        read until the server closes; print what came and "EOF after S"
#   close      TLS's close_notify (the connection itself stays open), then
#              "CLOSED" once the server's own close_notify or end came
# Exit 0; 2 when the connection broke before a step (printed as "BROKEN why").
import socket, ssl, sys, time

host, port, steps = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(30)
s.connect((host, port))
buf = b""
sent = time.time()

def line():
    global buf
    while b"\n" not in buf:
        b = s.recv(65536)
        if not b:
            raise EOFError("closed")
        buf += b
    l, buf = buf.split(b"\n", 1)
    return l.rstrip(b"\r").decode("latin-1")

def reply():
    while True:
        l = line()
        print(l, flush=True)
        if l[3:4] != "-":
            return

try:
    reply()  # the greeting
    for st in steps:
        if st.startswith(">"):
            s.sendall(st[1:].encode("latin-1").decode("unicode_escape").encode("latin-1"))
            sent = time.time()
        elif st == "<":
            reply()
        elif st == "<@":
            reply()
            print("REPLY after %.1f ms" % ((time.time() - sent) * 1000), flush=True)
        elif st.startswith("tls"):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            if buf:
                print("UNREAD before TLS: %r" % buf, flush=True)
                buf = b""
            s = ctx.wrap_socket(s, server_hostname=st[4:] or None)
            print("TLS %s %s" % (s.version(), s.cipher()[0]), flush=True)
        elif st.startswith("file="):
            s.sendall(open(st[5:], "rb").read())
        elif st.startswith("sleep="):
            time.sleep(float(st[6:]))
        elif st == "close":
            s.settimeout(20)
            try:
                s = s.unwrap()
            except (OSError, ssl.SSLError):
                pass
            print("CLOSED", flush=True)
        elif st == "eof":
            t = time.time()
            out = buf
            buf = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
            sys.stdout.write(out.decode("latin-1").replace("\r", ""))
            print("EOF after %.1f" % (time.time() - t), flush=True)
        else:
            sys.exit("tlssmtp.py: unknown step " + st)
except (EOFError, OSError, ssl.SSLError) as e:
    print("BROKEN %s" % e, flush=True)
    sys.exit(2)
