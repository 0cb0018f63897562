#!/usr/bin/env python3
# bigdata.py: large messages written in one go after 354, one session, the
# server (a proxy and its downstream) on a socket pair as under tcpserver.
# usage: bigdata.py COUNT BYTES DIR [--auth] -- prog [arg ...]
#   DIR is where tests/smtpsink -d puts the messages; each one is compared
#   with what was sent (dot-unstuffed) and removed. A reply that does not come
#   within 60 seconds is a stall (the proxy's idle time is 20 minutes).
# Prints one line: "N sent, N answered 250, N identical, N stalled".
import os, random, signal, socket, subprocess, sys

signal.alarm(1800)  # whatever happens, the test ends

count, size, mdir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
args = sys.argv[4:]
auth = False
while args and args[0] != "--":
    if args[0] == "--auth":
        auth = True
    args = args[1:]
prog = args[1:]

# lines of many lengths, some beginning with a dot (stuffed when sent), so
# that reads and the scanner's chunks end anywhere, a CR and its LF apart too
rnd = random.Random(13)
sent, want, n = [], [], 0
while n < size:
    k = rnd.choice((0, 1, 2, 40, 75, 76, 77, 200, 997))
    line = "".join(rnd.choice("abcdefghij .:-") for _ in range(k % 37)) * (k // 37 + 1)
    line = line[:k].encode()
    if rnd.random() < 0.01:
        line = b"." + line
    want.append(line + b"\r\n")
    sent.append((b"." + line if line.startswith(b".") else line) + b"\r\n")
    n += len(line) + 2
sent = b"".join(sent) + b".\r\n"
want = b"".join(want)

me, it = socket.socketpair()
proc = subprocess.Popen(prog, stdin=it.fileno(), stdout=it.fileno())
it.close()
me.settimeout(60)
f = me.makefile("rb")


def reply():
    while True:
        l = f.readline()
        if not l or l[3:4] != b"-":
            return l


def stored():
    names = [x for x in os.listdir(mdir) if x.startswith("msg.")]
    if len(names) != 1:
        return None
    path = os.path.join(mdir, names[0])
    with open(path, "rb") as m:
        text = m.read()
    os.unlink(path)
    return text[text.index(b"\n\n") + 2:]


ok = same = stalled = 0
try:
    reply()
    me.sendall(b"EHLO big.example\r\n")
    reply()
    if auth:
        me.sendall(b"AUTH PLAIN AHVzZXIAcGFzcw==\r\n")
        if not reply().startswith(b"235"):
            sys.exit("bigdata.py: AUTH failed")
    for i in range(count):
        me.sendall(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        reply(); reply()
        if not reply().startswith(b"354"):
            break
        me.sendall(sent)
        r = reply()
        if r.startswith(b"250"):
            ok += 1
            if stored() == want:
                same += 1
        else:
            break
    me.sendall(b"QUIT\r\n")
    reply()
except (socket.timeout, OSError):
    stalled += 1
f.close()
me.close()
if stalled:
    proc.kill()
try:
    proc.wait(timeout=60)
except subprocess.TimeoutExpired:
    proc.kill()
    proc.wait()
print("%d sent, %d answered 250, %d identical, %d stalled" % (count, ok, same, stalled))
