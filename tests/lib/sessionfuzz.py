#!/usr/bin/env python3
# sessionfuzz.py: random SMTP sessions, hostile in their message data, through
# a proxy in front of tests/smtpsink -d SINKDIR, each checked against what the
# client was told. Every message answered 250 is stored once, with the
# envelope the client got 250s for and the text the client sent (a bare LF
# made a line end, a bare CR a space, the client's dot stuffing undone, the
# injected lines above it); nothing else is stored; every session ends.
# The client sends in random pieces with short pauses, so that the proxy
# reads the same bytes cut in ever other places.
# usage: sessionfuzz.py HOST PORT SINKDIR [--seed N] [--sessions N]
#          [--header LINE | --header-re REGEX]... [--barelf normalize|reject]
#          [--refuse WORD] [--rcpt ADDR]... [--big] [--starttls P --tls-header-re REGEX]
#   --header LINE: a line every stored message begins with (no CRLF);
#     --header-re: a regular expression such a line matches; in the order given
#   --starttls P: a share P (0..1) of the sessions say STARTTLS after EHLO
#     (no certificate check) and go on in TLS; their messages have one line
#     more below the others, matching --tls-header-re
#   --barelf reject: a message with a bare LF gets 5xx and the session ends
#     (SDU_BARELF=reject), nothing is stored
#   --refuse WORD: a recipient with WORD in it gets 5xx (sdu-testproxy -r)
#   --rcpt ADDR: recipients are drawn from these (default: made up)
#   --big: some messages are hundreds of kilobytes, lines of 100 KB among them
#   --cut P: a share P of the messages (not in TLS) is cut: the client sends
#     part of it and leaves (shuts its side down): it must not be stored
#   --auth P: a share P of the sessions authenticate (AUTH PLAIN, which
#     smtpsink -x auth takes) after EHLO: their messages get no injected line
# Prints one line "N sessions, M messages stored as told, ..." and exits 0;
# on the first difference prints the seed, the session and the bytes, exit 1.
import os, random, re, socket, sys, time

args = sys.argv[1:]
if len(args) < 3:
    sys.exit("usage: sessionfuzz.py HOST PORT SINKDIR [--seed N] [--sessions N] [--header LINE | --header-re RE] "
             "[--barelf normalize|reject] [--refuse WORD] [--rcpt ADDR]... [--big]")
host, port, sink = args[0], int(args[1]), args[2]
seed, sessions, headers, reject, refuse, rcpts, big = None, 100, [], False, None, [], False
starttls, tls_header, auth, cut = 0.0, None, 0.0, 0.0
a = args[3:]
while a:
    o = a.pop(0)
    if o == "--seed": seed = int(a.pop(0))
    elif o == "--sessions": sessions = int(a.pop(0))
    elif o == "--header": headers.append(re.compile(re.escape(a.pop(0).encode()) + b"$"))
    elif o == "--header-re": headers.append(re.compile(a.pop(0).encode()))
    elif o == "--starttls": starttls = float(a.pop(0))
    elif o == "--tls-header-re": tls_header = re.compile(a.pop(0).encode())
    elif o == "--barelf": reject = a.pop(0) == "reject"
    elif o == "--refuse": refuse = a.pop(0)
    elif o == "--rcpt": rcpts.append(a.pop(0))
    elif o == "--big": big = True
    elif o == "--auth": auth = float(a.pop(0))
    elif o == "--cut": cut = float(a.pop(0))
    else: sys.exit("sessionfuzz.py: unknown option " + o)
if starttls:
    import ssl
if seed is None:
    seed = int.from_bytes(os.urandom(4), "big")
rnd = random.Random(seed)
CRLF = b"\r\n"


class Fail(Exception):
    pass


LOG = []  # the current session's lines, for the report of a failure


# --- what the client meant, and what must be stored: written from RFC 5321
# and the proxy's documented rules, not from its code
def lines_of(s):
    """the data before the final dot, cut at every line end: (text, kind of
    the line end, kind of the line's start) with kinds 'crlf' and 'lf'; a
    line starts 'crlf' at the beginning"""
    out, start, kind = [], 0, "crlf"
    for m in re.finditer(rb"\r?\n", s):
        end = "crlf" if m.end() - m.start() == 2 else "lf"
        out.append((s[start:m.start()], end, kind))
        kind, start = end, m.end()
    if start < len(s):
        out.append((s[start:], None, kind))
    return out


def early_end(s):
    """the client's own end of data inside s: a line '.' after CRLF ended by CRLF"""
    return any(t == b"." and end == "crlf" and start == "crlf" for t, end, start in lines_of(s))


def stored_text(s):
    """the text a server behind the proxy must store for data s (before the
    final dot, ending in CRLF or empty), and whether s has a bare LF"""
    out, barelf = [], False
    for t, end, start in lines_of(s):
        if end == "lf":
            barelf = True
        if start == "crlf" and t[:1] == b".":
            t = t[1:]  # the client's stuffing; after a bare LF a dot is text
        out.append(t.replace(b"\r", b" ") + CRLF)
    return b"".join(out), barelf


# --- the client
class Conn:
    def __init__(self):
        self.s = socket.create_connection((host, port), timeout=20)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.log = LOG
        self.tls = False

    def starttls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.s = ctx.wrap_socket(self.s, server_hostname="mx.sdu.test")
        self.tls = True

    def send(self, data, pieces=True):
        self.log.append(b"C: " + data[:300] + (b"..." if len(data) > 300 else b""))
        if not pieces or rnd.random() < 0.3:
            self.s.sendall(data); return
        i = 0
        while i < len(data):
            n = rnd.choice((1, 1, 2, 3, 5, 8, 64, 1000, 4096, 70000))
            self.s.sendall(data[i:i + n])
            i += n
            if rnd.random() < 0.05:
                time.sleep(rnd.random() * 0.002)

    def reply(self):
        """one whole reply: (code, text); (None, b'') at the end of the connection"""
        lines = []
        while True:
            while CRLF not in self.buf:
                try:
                    got = self.s.recv(65536)
                except socket.timeout:
                    raise Fail("no reply within 20 s (a stall)")
                if not got:
                    if self.buf or lines:
                        raise Fail("the connection ended inside a reply: %r" % (self.buf,))
                    return None, b""
                self.buf += got
            line, self.buf = self.buf.split(CRLF, 1)
            lines.append(line)
            if not re.match(rb"^[2-5][0-9][0-9][ -]", line) and not re.match(rb"^[2-5][0-9][0-9]$", line):
                raise Fail("not a reply line: %r" % line)
            if line[3:4] != b"-":
                self.log.append(b"S: " + b" | ".join(lines))
                return int(line[:3]), b"\n".join(lines)

    def close(self):
        self.s.close()


def addr():
    if rcpts:
        return rnd.choice(rcpts)
    local = rnd.choice(("a", "bob", "x.y", "info", "bad.guy", "postmaster"))
    if refuse and rnd.random() < 0.2:
        local = refuse + local
    return "%s@%s" % (local, rnd.choice(("example.net", "example.org", "test.example")))


PIECES = [b"Subject: hi", b"text", b" ", b"\t", b"\r\n", b"\r\n", b"\n", b"\r", b".", b"..", b"\r\n.",
          b"\n.", b"\r.", b".\r", b".\n", b"\r\n.\n", b"\n.\r\n", b"\r\n.\r", b"\r.\r", b"\n.\n", b"\r\r\n",
          b"\x00", b"\xff\xfe", b"From: x@y", b"\r\n\r\n", b". leading", b"\r\n..\r\n"]


def body():
    """message data as the client sends it, before its final dot"""
    while True:
        parts = []
        for _ in range(rnd.randrange(0, 40)):
            r = rnd.random()
            if r < 0.04:
                parts.append(b"x" * rnd.randrange(900, 5000))
            elif big and r < 0.07:
                parts.append((b"y" * rnd.randrange(1, 200) + rnd.choice((b"\r\n", b"\n", b"\r"))) * rnd.randrange(100, 3000))
            elif big and r < 0.08:
                parts.append(b"z" * rnd.randrange(60000, 140000))
            else:
                parts.append(rnd.choice(PIECES))
        s = b"".join(parts)
        if s and not s.endswith(CRLF):
            s += CRLF
        if not early_end(s):
            return s


def session():
    c = Conn()
    want = []    # (mail, [rcpt], text) the client was told were taken
    try:
        code, _ = c.reply()
        if code != 220:
            raise Fail("greeting %r" % code)
        tls = rnd.random() < starttls
        c.send((b"EHLO" if tls else rnd.choice((b"EHLO", b"HELO"))) + b" client.example" + CRLF)
        if c.reply()[0] != 250:
            raise Fail("EHLO not 250")
        if tls:
            c.send(b"STARTTLS" + CRLF, pieces=False)
            code, _ = c.reply()
            if code != 220:
                raise Fail("STARTTLS got %r" % code)
            c.starttls()
            c.send(b"EHLO client.example" + CRLF, pieces=False)
            if c.reply()[0] != 250:
                raise Fail("EHLO in TLS not 250")
        authed = not tls and rnd.random() < auth
        if authed:
            c.send(b"AUTH PLAIN AHVzZXIAcGFzcw==" + CRLF, pieces=False)
            if c.reply()[0] != 235:
                raise Fail("AUTH not 235")
        ended = False
        for t in range(rnd.randrange(1, 4)):
            mail = "" if rnd.random() < 0.1 else addr()
            rc = [addr() for _ in range(rnd.randrange(1, 4))]
            # a command line may end in a bare LF: a line end too (qmail-smtpd takes it)
            eol = lambda: b"\n" if rnd.random() < 0.1 else CRLF
            cmds = [b"MAIL FROM:<" + mail.encode() + b">" + eol()] + [b"RCPT TO:<" + r.encode() + b">" + eol() for r in rc] + [b"DATA" + eol()]
            if rnd.random() < 0.5:
                c.send(b"".join(cmds))
                # nothing is read after a 421: the server has closed with
                # the rest of the pipelined commands unread, and the
                # kernel answers them with a reset (qmail-smtpd alike)
                codes = []
                for _ in cmds:
                    codes.append(c.reply()[0])
                    if codes[-1] in (421, None):
                        break
            else:
                codes = []
                for cmd in cmds:
                    c.send(cmd, pieces=False)
                    codes.append(c.reply()[0])
                    if codes[-1] in (421, None):
                        break
            if 421 in codes:
                # the session refused (too many unknown recipients, a
                # blacklisted pair): nothing more is answered
                if None in codes[:codes.index(421)]:
                    raise Fail("the connection ended in the envelope before the 421")
                ended = True
                break
            if None in codes:
                raise Fail("the connection ended in the envelope")
            ok = [r for r, k in zip(rc, codes[1:-1]) if k == 250]
            if codes[-1] != 354:
                if codes[0] == 250 and ok:
                    raise Fail("DATA got %r after MAIL 250 and a RCPT 250" % codes[-1])
                c.send(b"RSET" + CRLF, pieces=False)
                if c.reply()[0] != 250:
                    raise Fail("RSET not 250")
                continue
            if codes[0] != 250 or not ok:
                raise Fail("DATA got 354 with MAIL %r and no RCPT taken" % codes[0])
            s = body()
            if not tls and rnd.random() < cut:
                whole = s + b"." + CRLF
                c.send(whole[:rnd.randrange(0, len(whole))])
                c.s.shutdown(socket.SHUT_WR)
                while True:
                    code, _ = c.reply()
                    if code is None:
                        break
                    if code == 250:
                        raise Fail("a message the client cut got 250")
                ended = True
                break
            c.send(s + b"." + CRLF)
            code, _ = c.reply()
            text, barelf = stored_text(s)
            if reject and barelf:
                if code is None or code < 500:
                    raise Fail("a bare LF with SDU_BARELF=reject: %r, not 5xx" % code)
                nxt = c.reply()[0]
                if nxt not in (421, None):
                    raise Fail("after the bare LF refusal: %r, not 421 or the end" % nxt)
                ended = True
                break
            if code == 250:
                want.append((mail, ok, text, authed))
            elif code is None:
                raise Fail("the connection ended at the end of data")
            else:
                raise Fail("end of data got %r" % code)
            if rnd.random() < 0.2:
                c.send(b"RSET" + CRLF, pieces=False)
                if c.reply()[0] != 250:
                    raise Fail("RSET not 250")
        if not ended:
            c.send(b"QUIT" + CRLF, pieces=False)
            if c.reply()[0] != 221:
                raise Fail("QUIT not 221")
        c.s.settimeout(20)
        while True:
            try:
                if not c.s.recv(65536):
                    break
            except socket.timeout:
                raise Fail("the connection did not end after QUIT")
    finally:
        c.close()
    return want, c.tls


def stored():
    """the messages the sink took, oldest first, and the files removed"""
    out = []
    names = sorted(f for f in os.listdir(sink) if f.startswith("msg."))
    for f in names:
        p = os.path.join(sink, f)
        with open(p, "rb") as fh:
            raw = fh.read()
        os.unlink(p)
        env, _, data = raw.partition(b"\n\n")
        mail, rc = None, []
        for line in env.split(b"\n"):
            if line.startswith(b"mail: "):
                mail = line[6:]
            elif line.startswith(b"rcpt: "):
                rc.append(line[6:])
        out.append((mail, rc, data))
    for f in os.listdir(sink):
        if f.startswith("tmp."):
            try:
                os.unlink(os.path.join(sink, f))
            except FileNotFoundError:
                pass  # the sink took away what a cut message left
    return out


def check(want, got, tls):
    if len(want) != len(got):
        raise Fail("%d messages answered 250, %d stored" % (len(want), len(got)))
    for (mail, ok, text, authed), (gmail, grc, data) in zip(want, got):
        if gmail != b"<" + mail.encode() + b">":
            raise Fail("stored sender %r, sent %r" % (gmail, mail))
        if grc != [b"<" + r.encode() + b">" for r in ok]:
            raise Fail("stored recipients %r, taken %r" % (grc, ok))
        rest = data
        injected = [] if authed else headers + ([tls_header] if tls and tls_header else [])
        for h in injected:
            line, sep, rest = rest.partition(CRLF)
            if not sep or not h.match(line):
                raise Fail("the injected lines are not first (%r): %r" % (h.pattern, data[:300]))
        if injected:
            if text[:1] in (b" ", b"\t"):
                cont = b"X-Sdu-Continuation:" + CRLF
                if not rest.startswith(cont):
                    raise Fail("a first line that begins with a blank follows no X-Sdu-Continuation: %r" % data[:200])
                rest = rest[len(cont):]
        if rest != text:
            i = next((k for k in range(min(len(rest), len(text))) if rest[k] != text[k]), min(len(rest), len(text)))
            raise Fail("stored text differs at byte %d of %d (want %d): stored %r, want %r"
                       % (i, len(rest), len(text), rest[max(0, i - 40):i + 40], text[max(0, i - 40):i + 40]))
        if re.search(rb"\r(?!\n)|(?<!\r)\n", data):
            raise Fail("a bare CR or LF reached the server")


messages = 0
for n in range(sessions):
    del LOG[:]
    try:
        late = stored()
        if late:
            # every message the client was told of is stored before its 250
            raise Fail("%d message(s) stored after the session before this one ended: %r" % (len(late), late[0][2][:200]))
        want, tls = session()
        got = stored()
        check(want, got, tls)
        messages += len(want)
    except (Fail, OSError) as e:
        print("sessionfuzz: seed %d, session %d: %s" % (seed, n, e))
        for l in LOG[-12:]:
            print("#   %r" % l)
        sys.exit(1)
time.sleep(0.3)
late = stored()
if late:
    print("sessionfuzz: seed %d: %d message(s) stored after the last session ended" % (seed, len(late)))
    sys.exit(1)
print("%d sessions, %d messages stored as told (seed %d)" % (sessions, messages, seed))
