# badredis.py WHERE MODE: a Redis server that misbehaves, for the fail-open checks.
# WHERE is a unix socket path, or tcp:ADDR:PORT. MODE, for every command it reads:
#   hang       never answers
#   error      -READONLY (a replica)
#   oom        -OOM (maxmemory reached)
#   wrongtype  an integer where a string or an array is due
#   huge       a bulk of a gigabyte, sent as fast as the client reads it
#   array      an array of a hundred million integers, likewise (refused at its length)
#   close      half a bulk reply, then the connection closed
#   inject     an error whose text holds a newline and a forged log line
#   noaccept   (tcp) never accepts: its backlog is full, connect() waits
#   noscript   -NOSCRIPT to an EVALSHA and a count (*1 :1) to an EVAL, each
#              after SECONDS (a third argument, default 0.8): a call that
#              gave the EVAL a deadline of its own took their sum
import os, socket, sys, threading, time
where, mode = sys.argv[1], sys.argv[2]
delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.8
if where.startswith("tcp:"):
    host, port = where[4:].rsplit(":", 1)
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((host, int(port)))
else:
    try: os.unlink(where)
    except OSError: pass
    s = socket.socket(socket.AF_UNIX); s.bind(where)
if mode == "noaccept":
    s.listen(0)
    fill = []
    for i in range(4): # fill the accept queue: later SYNs are dropped
        c = socket.socket(); c.setblocking(False)
        try: c.connect((host, int(port)))
        except OSError: pass
        fill.append(c)
    while True: time.sleep(60)
s.listen(16)
ANSWER = {"error": b"-READONLY You can't write against a read only replica.\r\n",
          "oom": b"-OOM command not allowed when used memory > 'maxmemory'.\r\n",
          "wrongtype": b":1\r\n",
          "inject": b"-ERR bad\nthrottle: ip=6.6.6.6 lists=- action=forged\r\n"}
def serve(c):
    try:
        while True:
            b = c.recv(65536)
            if not b: break
            if mode in ANSWER: c.sendall(ANSWER[mode])
            elif mode == "noscript": # the command's name is the array's first bulk
                if b"\r\n$7\r\nEVALSHA\r\n" in b[:32]: time.sleep(delay); c.sendall(b"-NOSCRIPT No matching script.\r\n")
                elif b"\r\n$4\r\nEVAL\r\n" in b[:32]: time.sleep(delay); c.sendall(b"*1\r\n:1\r\n")
            elif mode == "close": c.sendall(b"$100\r\nabc"); break
            elif mode == "huge":
                c.sendall(b"$1000000000\r\n")
                while True: c.sendall(b"x" * 65536)
            elif mode == "array":
                c.sendall(b"*100000000\r\n")
                while True: c.sendall(b":1\r\n" * 16384)
    except OSError: pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
