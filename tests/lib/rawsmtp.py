#!/usr/bin/env python3
# rawsmtp.py: a client for end-to-end tests that writes a whole dialogue in one
# go (pipelining at its most), then reads every reply until the server closes.
# usage: rawsmtp.py HOST PORT FILE [--close-after N] [--timeout S] [--wait W] [--bind ADDR]
#   --close-after N: send only the first N bytes, then close the connection
#   --wait W: when to write: now (at once after connecting, the default: a
#     bot that talks before the greeting), firstline (after the first line
#     the server sends), greeted (after the complete greeting: a 220 line
#     without "-", or a refusal)
#   --bind ADDR (or --source ADDR): connect from this local address (a
#     127.x.y.z of the test's own)
import socket, sys

host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
close_after = None
timeout = 20.0
wait = "now"
bind = None
args = sys.argv[4:]
while args:
    if args[0] == "--close-after":
        close_after = int(args[1]); args = args[2:]
    elif args[0] == "--timeout":
        timeout = float(args[1]); args = args[2:]
    elif args[0] == "--wait" and args[1] in ("now", "firstline", "greeted"):
        wait = args[1]; args = args[2:]
    elif args[0] in ("--bind", "--source"):
        bind = args[1]; args = args[2:]
    else:
        sys.exit("rawsmtp.py: usage: HOST PORT FILE [--close-after N] [--timeout S] [--wait now|firstline|greeted] [--bind ADDR]")
data = open(path, "rb").read()
s = socket.create_connection((host, port), timeout=timeout,
                             source_address=(bind, 0) if bind else None)
if close_after is not None:
    s.recv(4096)
    s.sendall(data[:close_after])
    s.close()
    sys.exit(0)
out = b""

def lines():
    return out.split(b"\n")[:-1]

def waited():
    if wait == "firstline":
        return len(lines()) >= 1
    return any(l[:4] == b"220 " or l[:1] in (b"4", b"5") for l in lines())

try:
    while wait != "now" and not waited():
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.sendall(data)
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except socket.timeout:
    sys.stderr.write("rawsmtp.py: timeout\n")
except ConnectionResetError:
    sys.stderr.write("rawsmtp.py: reset\n")
sys.stdout.buffer.write(out)
