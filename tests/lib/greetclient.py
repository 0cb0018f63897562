#!/usr/bin/env python3
# greetclient.py: an SMTP client for the pregreet tests that chooses when it
# talks: at once after connecting (a bot), after the greeting's first line (a
# bot that reads one line), or after the complete greeting (polite; its
# commands all in one write, pipelining), then reads every reply until the
# server closes and prints them.
# usage: greetclient.py HOST PORT MODE [--bind ADDR] [--timeout S] [COMMAND...]
#   MODE: now | firstline | greeted; COMMANDs default to EHLO, MAIL, RCPT, DATA
#   with a message, QUIT
import socket, sys, time

host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
bind, timeout, cmds = None, 20.0, []
args = sys.argv[4:]
while args:
    if args[0] == "--bind":
        bind = args[1]; args = args[2:]
    elif args[0] == "--timeout":
        timeout = float(args[1]); args = args[2:]
    else:
        cmds.append(args[0]); args = args[1:]
if mode not in ("now", "firstline", "greeted"):
    sys.exit("greetclient.py: MODE is now, firstline or greeted")
if not cmds:
    cmds = ["EHLO bot.test", "MAIL FROM:<a@example.com>", "RCPT TO:<b@example.net>",
            "DATA", "Subject: " + mode + "\r\n\r\nhello\r\n.", "QUIT"]
data = "".join(c + "\r\n" for c in cmds).encode()
s = socket.create_connection((host, port), timeout=timeout,
                             source_address=(bind, 0) if bind else None)
out = b""

def lines():
    return out.split(b"\r\n")[:-1] if out.endswith(b"\r\n") else out.split(b"\r\n")[:-1]

def readuntil(done):
    global out
    while not done():
        b = s.recv(65536)
        if not b:
            return
        out += b

if mode == "firstline":
    readuntil(lambda: len(lines()) >= 1)
elif mode == "greeted":
    readuntil(lambda: any(l[:4] == b"220 " for l in lines()) or
              any(l[:1] in (b"4", b"5") for l in lines()))
s.sendall(data)
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except socket.timeout:
    sys.stderr.write("greetclient.py: timeout\n")
except ConnectionResetError:
    sys.stderr.write("greetclient.py: reset\n")
sys.stdout.buffer.write(out)
