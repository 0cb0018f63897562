#!/usr/bin/env python3
"""tests/lib/reportcheck.py: checks of sdu-report's outputs for tests/e2e/report.t.sh.

  reportcheck.py html PAGE            well-formed, self-contained HTML (no script,
                                      nothing loaded from elsewhere), an inline SVG
  reportcheck.py png SHOT W H [BLANK] [#rrggbb=MIN ...]
                                      a PNG of W x H pixels, decoded; with BLANK (a
                                      screenshot of an empty page) it must differ
                                      from it; each colour on at least MIN pixels
  reportcheck.py mail MAIL PAGE       a MIME message: To, Subject, 7-bit, short lines,
                                      multipart/alternative of the text and PAGE
  reportcheck.py grafana JSON PROM    every metric the dashboard's queries name is
                                      one that PROM (sdu-report -P's output) declares
Prints one line per problem and exits 1, or prints "ok" and exits 0.
"""
import email
import html.parser
import json
import re
import struct
import sys
import zlib

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.problems, self.tags = [], [], {}

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag in ("script", "iframe", "object", "embed", "img", "link", "image", "use", "foreignobject"):
            self.problems.append("a <%s> element" % tag)
        for k, v in attrs:
            if k.startswith("on"):
                self.problems.append("an event handler %s= on <%s>" % (k, tag))
            if k in ("src", "href", "xlink:href", "srcset", "background") and v is not None:
                self.problems.append("%s=%r on <%s>: loaded from elsewhere" % (k, v, tag))
            if k == "style" and v and re.search(r"url\(|@import", v, re.I):
                self.problems.append("a url() in a style attribute")
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.problems.append("</%s> at line %d closes %s" % (tag, self.getpos()[0],
                                 "<%s> of line %d" % (self.stack[-1][0], self.stack[-1][1][0]) if self.stack else "nothing"))
            return
        self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1][0] == "style" and re.search(r"url\(|@import|@font-face", data, re.I):
            self.problems.append("the style sheet loads something (url, @import, @font-face)")


def check_html(path):
    text = open(path, "rb").read()
    problems = []
    try:
        s = text.decode("ascii")
    except UnicodeDecodeError:
        return ["not 7-bit ASCII"]
    if not s.startswith("<!DOCTYPE html>"):
        problems.append("no <!DOCTYPE html>")
    p = Page()
    p.feed(s)
    p.close()
    problems += p.problems
    if p.stack:
        problems.append("never closed: " + ", ".join("<%s> of line %d" % (t, l[0]) for t, l in p.stack))
    for t in ("html", "head", "title", "style", "body", "svg", "table"):
        if not p.tags.get(t):
            problems.append("no <%s>" % t)
    if p.tags.get("rect", 0) < 5:
        problems.append("the chart has %d bars or legend boxes" % p.tags.get("rect", 0))
    return problems


def png_pixels(path):
    """(width, height, rows of RGB bytes) of an 8-bit RGB or RGBA PNG, not interlaced"""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError("PNG of depth %d, colour type %d, interlace %d: not read here" % (depth, ctype, interlace))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line) if bpp == 3 else bytes(v for k, v in enumerate(line) if k % 4 != 3))
        prev = line
    return w, h, rows


def check_png(shot, w, h, rest):
    problems = []
    try:
        sw, sh, rows = png_pixels(shot)
    except Exception as e:  # a broken file is a failed check, with its reason
        return ["%s: %s" % (shot, e)]
    if (sw, sh) != (w, h):
        problems.append("%s is %dx%d, not %dx%d" % (shot, sw, sh, w, h))
    counts = {}
    for r in rows:
        for k in range(0, len(r), 3):
            px = r[k:k + 3]
            counts[px] = counts.get(px, 0) + 1
    if len(counts) < 16:
        problems.append("%s has %d colours: an empty page" % (shot, len(counts)))
    for arg in rest:
        if arg.startswith("#"):
            colour, least = arg.split("=")
            want = bytes.fromhex(colour[1:])
            n = sum(c for px, c in counts.items() if all(abs(px[i] - want[i]) <= 2 for i in range(3)))
            if n < int(least):
                problems.append("%s: colour %s on %d pixels, fewer than %s" % (shot, colour, n, least))
        else:
            bw, bh, brows = png_pixels(arg)
            if (bw, bh) == (sw, sh):
                differ = sum(1 for a, b in zip(rows, brows) if a != b)
                if differ < sh // 4:
                    problems.append("%s differs from the empty page %s in only %d rows" % (shot, arg, differ))
    return problems


def check_mail(path, page):
    raw = open(path, "rb").read()
    problems = []
    if any(b > 0x7e or (b < 0x20 and b not in (9, 10)) for b in raw):
        problems.append("not 7-bit text")
    long = [i + 1 for i, l in enumerate(raw.split(b"\n")) if len(l) > 998]
    if long:
        problems.append("lines longer than 998 bytes: %s" % long[:5])
    m = email.message_from_bytes(raw)
    if not m["To"] or not m["Subject"] or not m["Date"] or m["MIME-Version"] != "1.0":
        problems.append("headers: To %r Subject %r Date %r MIME-Version %r" % (m["To"], m["Subject"], m["Date"], m["MIME-Version"]))
    if m.get_content_type() != "multipart/alternative":
        return problems + ["content type %s" % m.get_content_type()]
    parts = m.get_payload()
    types = [p.get_content_type() for p in parts]
    if types != ["text/plain", "text/html"]:
        problems.append("parts %s" % types)
    else:
        if "connections refused:" not in parts[0].get_payload():
            problems.append("the text part is not the summary")
        if parts[1].get_payload().rstrip("\n") != open(page).read().rstrip("\n"):
            problems.append("the HTML part is not the page of -H")
    return problems


def check_grafana(path, prom):
    declared = set(re.findall(r"^# TYPE (\S+) ", open(prom).read(), re.M))
    board = json.load(open(path))
    exprs = []

    def walk(o):
        if isinstance(o, dict):
            if o.get("type") == "datasource":  # the variable that picks Prometheus: no query
                return
            for k, v in o.items():
                if k in ("expr", "query", "definition") and isinstance(v, str):
                    exprs.append(v)
                else:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(board)
    problems = []
    if len(exprs) < 6:
        problems.append("only %d queries" % len(exprs))
    for e in exprs:
        names = re.findall(r"\b(sdu_[a-z0-9_]+)", e)
        if not names:
            problems.append("a query with no sdu metric: %s" % e)
        for n in names:
            if n not in declared:
                problems.append("%s (in %s) is not written by sdu-report" % (n, e))
    return problems


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    what = argv[1]
    if what == "html":
        problems = check_html(argv[2])
    elif what == "png":
        problems = check_png(argv[2], int(argv[3]), int(argv[4]), argv[5:])
    elif what == "mail":
        problems = check_mail(argv[2], argv[3])
    elif what == "grafana":
        problems = check_grafana(argv[2], argv[3])
    else:
        print(__doc__)
        return 2
    for p in problems:
        print(p)
    if problems:
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
