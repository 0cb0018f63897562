#!/usr/bin/env python3
# rawsmtp.py: a client for end-to-end tests that writes a whole dialogue in one
# go (pipelining at its most), then reads every reply until the server closes.
# usage: rawsmtp.py HOST PORT FILE [--close-after N] [--timeout S] [--source ADDR]
#   --close-after N: send only the first N bytes, then close the connection
#   --source ADDR: connect from ADDR (a 127.x.y.z of the test's own)
import socket, sys

host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
close_after = None
timeout = 20.0
source = None
args = sys.argv[4:]
while args:
    if args[0] == "--close-after":
        close_after = int(args[1]); args = args[2:]
    elif args[0] == "--timeout":
        timeout = float(args[1]); args = args[2:]
    elif args[0] == "--source":
        source = (args[1], 0); args = args[2:]
    else:
        sys.exit("rawsmtp.py: usage: HOST PORT FILE [--close-after N] [--timeout S] [--source ADDR]")
data = open(path, "rb").read()
s = socket.create_connection((host, port), timeout=timeout, source_address=source)
if close_after is not None:
    s.recv(4096)
    s.sendall(data[:close_after])
    s.close()
    sys.exit(0)
s.sendall(data)
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except socket.timeout:
    sys.stderr.write("rawsmtp.py: timeout\n")
sys.stdout.buffer.write(out)
