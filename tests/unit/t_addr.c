/* t_addr.c: the MAIL FROM / RCPT TO path parser */
#include <stdlib.h>
#include "sdu_t.h"
#include "sdu_addr.h"

/* the argument is copied to a buffer of exactly len bytes, without a
   terminator, so that ASan sees any read past len */
static int parse(const char *arg, size_t len, int ismail, sdu_path *p)
{
  char *b = malloc(len ? len : 1);
  int r;
  if (!b) exit(111);
  memcpy(b, arg, len);
  r = sdu_smtp_path(b, len, ismail, p);
  /* params point into the argument: check them before it goes */
  if (r == 0 && (p->params < b || p->params + p->paramslen > b + len)) r = -1;
  if (r == 0) {
    static char params[1024];
    memcpy(params, p->params, p->paramslen);
    params[p->paramslen] = 0;
    p->params = params;
  }
  free(b);
  return r;
}

static void good(const char *arg, int ismail, const char *want, size_t atpos, const char *params, const char *name)
{
  sdu_path p;
  int r = parse(arg, strlen(arg), ismail, &p);
  T_EQI(r, 0, name);
  if (r) { printf("#   err %s\n", p.err ? p.err : "(none)"); return; }
  T_EQB(p.addr, p.len, want, "  address");
  T_OK(p.addr[p.len] == 0, "  address 0-terminated");
  T_EQI(p.atpos, atpos, "  position of @");
  T_EQS(p.params, params, "  parameters");
  T_OK(p.err == 0, "  no error text");
  T_EQI(p.null, want[0] == 0, "  null flag only for <>");
}

static void bad(const char *arg, size_t len, int ismail, int code, const char *err, const char *name)
{
  sdu_path p;
  int r = parse(arg, len, ismail, &p);
  T_EQI(r, code, name);
  T_EQS(p.err ? p.err : "(none)", err, "  reply text");
}

/* out = pre, n times c, post */
static void mk(char *out, const char *pre, char c, int n, const char *post)
{
  size_t l = strlen(pre);
  memcpy(out, pre, l);
  memset(out + l, c, (size_t) n);
  strcpy(out + l + (size_t) n, post);
}

/* a dot every 50 octets, so that labels stay short */
static void dots(char *s, int n)
{
  int i;
  for (i = 49; i < n - 1; i += 50) s[i] = '.';
}

#define BAD(arg, ismail, code, err, name) bad((arg), strlen(arg), (ismail), (code), (err), (name))

int main(void)
{
  sdu_path p;
  char buf[600], want[600];

  T_EQI(parse("FROM:<>", 7, 1, &p), 0, "null path for MAIL");
  T_OK(p.null == 1 && p.len == 0 && p.addr[0] == 0, "null path: flagged, empty address");
  good("FROM:<a@b.example>", 1, "a@b.example", 1, "", "plain address");
  good("TO:<a@b.example>", 0, "a@b.example", 1, "", "plain recipient");
  good("from:<A@B.EXAMPLE>", 1, "A@b.example", 1, "", "domain folded, local part kept, verb case-insensitive");
  good("To:<Postmaster@Example.ORG>", 0, "Postmaster@example.org", 10, "", "RCPT verb case-insensitive");
  good("TO:<\"a b\"@x.example>", 0, "\"a b\"@x.example", 5, "", "quoted local part with blank stays quoted");
  good("TO:<\"ab\"@x.example>", 0, "ab@x.example", 2, "", "quoted dot-atom unquoted");
  good("TO:<\"a.b\"@x.example>", 0, "a.b@x.example", 3, "", "quoted dotted atom unquoted");
  good("TO:<\"a..b\"@x.example>", 0, "\"a..b\"@x.example", 6, "", "quoted a..b stays quoted");
  good("TO:<\"\\a\\\"b\\\\\"@x.example>", 0, "\"a\\\"b\\\\\"@x.example", 8, "", "needless escapes dropped, needed ones kept");
  good("TO:<\"a>b\"@x.example>", 0, "\"a>b\"@x.example", 5, "", "> inside quotes does not end the path");
  good("TO:<@a,@b:x@y.example>", 0, "x@y.example", 1, "", "source route dropped");
  good("TO:<@a.example:x@y.example>", 0, "x@y.example", 1, "", "one-hop source route dropped");
  good("FROM:<x@y.example> SIZE=1000 BODY=8BITMIME", 1, "x@y.example", 1, "SIZE=1000 BODY=8BITMIME", "ESMTP parameters returned untouched");
  good("TO:<x@y.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+40y.example", 0, "x@y.example", 1,
    "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+40y.example", "RCPT parameters");
  good("FROM:<> AUTH=<>", 1, "", 0, "AUTH=<>", "null path with parameter");
  good("FROM:<x@y.example>  SMTPUTF8 ", 1, "x@y.example", 1, "SMTPUTF8 ", "parameter without value, extra blanks");
  good("FROM:<x@y.example> ", 1, "x@y.example", 1, "", "trailing blank only");
  good("FROM: <a@b.example>", 1, "a@b.example", 1, "", "space after colon");
  good("FROM:   <a@b.example>", 1, "a@b.example", 1, "", "several spaces after colon");
  good("TO:<a@b.example.>", 0, "a@b.example", 1, "", "trailing dot of domain removed");
  good("TO:<postmaster>", 0, "postmaster", 10, "", "<postmaster> for RCPT");
  good("TO:<PostMaster>", 0, "postmaster", 10, "", "<PostMaster> for RCPT, canonical lower case");
  good("TO:<a@[192.0.2.1]>", 0, "a@[192.0.2.1]", 1, "", "IPv4 address literal");
  good("TO:<a@[ipv6:2001:DB8::1]>", 0, "a@[IPv6:2001:db8::1]", 1, "", "IPv6 address literal");
  good("TO:<a@[IPv6:::ffff:192.0.2.1]>", 0, "a@[IPv6:::ffff:192.0.2.1]", 1, "", "IPv6 literal with IPv4 tail");
  good("TO:<!#$%&'*+-/=?^_`{|}~@x-1.example>", 0, "!#$%&'*+-/=?^_`{|}~@x-1.example", 19, "", "every atext character");
  good("TO:<a@localhost>", 0, "a@localhost", 1, "", "single-label domain");

  /* command syntax: 501 */
  BAD("FROM:a@b.example", 1, 501, "5.5.4 path must be enclosed in <>", "no brackets");
  BAD("FROM:<a@b.example", 1, 501, "5.5.4 path must be enclosed in <>", "unterminated <");
  BAD("TO:<\"a>@b.example>", 0, 501, "5.5.4 path must be enclosed in <>", "unterminated quote hides the >");
  BAD("FROM:", 1, 501, "5.5.4 path must be enclosed in <>", "nothing after FROM:");
  BAD("FROM <a@b.example>", 1, 501, "5.5.2 syntax error, expected FROM:<address>", "missing colon");
  BAD("TO:<a@b.example>", 1, 501, "5.5.2 syntax error, expected FROM:<address>", "TO: given to MAIL");
  BAD("FROM:<a@b.example>", 0, 501, "5.5.2 syntax error, expected TO:<address>", "FROM: given to RCPT");
  BAD("", 0, 501, "5.5.2 syntax error, expected TO:<address>", "empty argument");
  BAD("TO", 0, 501, "5.5.2 syntax error, expected TO:<address>", "cut verb");
  BAD("TO:<a@b.example>junk", 0, 501, "5.5.4 junk after path", "junk glued to >");
  BAD("TO:<a@b.example> <c@d.example>", 0, 501, "5.5.4 bad parameter syntax", "second path after the first");
  BAD("TO:<a@b.example> =x", 0, 501, "5.5.4 bad parameter syntax", "parameter without keyword");
  BAD("TO:<a@b.example> A=", 0, 501, "5.5.4 bad parameter syntax", "parameter with empty value");
  BAD("TO:<a@b.example> A\xff", 0, 501, "5.5.4 bad parameter syntax", "8-bit parameter");
  bad("TO:<a\0b@c.example>", 19, 0, 501, "5.5.2 NUL byte in command", "NUL byte inside");
  bad("TO:<ab@c.example> X=\0", 21, 0, 501, "5.5.2 NUL byte in command", "NUL byte in parameters");
  BAD("TO:<a\rb@c.example>", 0, 501, "5.5.2 control character in command", "bare CR inside");
  BAD("TO:<ab@c.example>\r", 0, 501, "5.5.2 control character in command", "CR after the path");
  BAD("TO:<a\tb@c.example>", 0, 501, "5.5.2 control character in command", "tab inside");
  BAD("TO:\t<ab@c.example>", 0, 501, "5.5.2 control character in command", "tab is not a blank before the path");

  /* address syntax: 553 */
  BAD("TO:<>", 0, 553, "5.1.3 null recipient not allowed", "<> for RCPT");
  BAD("FROM:<postmaster>", 1, 553, "5.1.7 address must contain a domain", "<postmaster> for MAIL");
  BAD("TO:<abuse>", 0, 553, "5.1.3 address must contain a domain", "no domain, not postmaster");
  BAD("TO:<a@>", 0, 553, "5.1.3 empty domain", "<a@>");
  BAD("TO:<a@.>", 0, 553, "5.1.3 empty domain", "<a@.>");
  BAD("TO:<@b.example>", 0, 553, "5.1.3 bad recipient address syntax", "<@b>");
  BAD("FROM:<@b.example>", 1, 553, "5.1.7 bad sender address syntax", "<@b> for MAIL: sender code");
  BAD("TO:<@a,b:x@y.example>", 0, 553, "5.1.3 bad recipient address syntax", "source route hop without @");
  BAD("TO:<@a,@b:>", 0, 553, "5.1.3 bad recipient address syntax", "source route without mailbox");
  BAD("TO:<@a_b:x@y.example>", 0, 553, "5.1.3 bad domain syntax", "bad domain in source route");
  BAD("TO:<a..b@c.example>", 0, 553, "5.1.3 bad recipient address syntax", "<a..b@c>");
  BAD("TO:<.a@c.example>", 0, 553, "5.1.3 bad recipient address syntax", "leading dot in local part");
  BAD("TO:<a.@c.example>", 0, 553, "5.1.3 bad recipient address syntax", "trailing dot in local part");
  BAD("TO:<a b@c.example>", 0, 553, "5.1.3 bad recipient address syntax", "blank in unquoted local part");
  BAD("TO:<a\"b\"@c.example>", 0, 553, "5.1.3 bad recipient address syntax", "quote inside unquoted local part");
  BAD("TO:<\"a\"b@c.example>", 0, 553, "5.1.3 bad recipient address syntax", "text after closing quote");
  BAD("TO:<\"\"@c.example>", 0, 553, "5.1.3 empty local part", "empty quoted local part");
  BAD("TO:<a@b..c>", 0, 553, "5.1.3 bad domain syntax", "<a@b..c>");
  BAD("TO:<a@.b.c>", 0, 553, "5.1.3 bad domain syntax", "leading dot in domain");
  BAD("TO:<a@b.example..>", 0, 553, "5.1.3 bad domain syntax", "two trailing dots");
  BAD("TO:<a@-b.example>", 0, 553, "5.1.3 bad domain syntax", "label starting with hyphen");
  BAD("TO:<a@b-.example>", 0, 553, "5.1.3 bad domain syntax", "label ending with hyphen");
  BAD("TO:<a@b_c.example>", 0, 553, "5.1.3 bad domain syntax", "underscore in domain");
  BAD("TO:<a@b@c.example>", 0, 553, "5.1.3 bad domain syntax", "two @");
  BAD("TO:<a@caf\xc3\xa9.example>", 0, 553, "5.6.7 non-ASCII address not supported", "8-bit domain");
  BAD("FROM:<\xc3\xa9@x.example>", 1, 553, "5.6.7 non-ASCII address not supported", "8-bit local part");
  BAD("TO:<a@[192.0.2.256]>", 0, 553, "5.1.3 bad or unsupported address literal", "IPv4 literal out of range");
  BAD("TO:<a@[192.0.2]>", 0, 553, "5.1.3 bad or unsupported address literal", "IPv4 literal too short");
  BAD("TO:<a@[192.0.2.1.5]>", 0, 553, "5.1.3 bad or unsupported address literal", "IPv4 literal too long");
  BAD("TO:<a@[0192.0.2.1]>", 0, 553, "5.1.3 bad or unsupported address literal", "IPv4 literal with 4 digits");
  BAD("TO:<a@[IPv6:2001:db8::g]>", 0, 553, "5.1.3 bad or unsupported address literal", "bad IPv6 literal");
  BAD("TO:<a@[IPv6:]>", 0, 553, "5.1.3 bad or unsupported address literal", "empty IPv6 literal");
  BAD("TO:<a@[x-tag:abc]>", 0, 553, "5.1.3 bad or unsupported address literal", "general address literal");
  BAD("TO:<a@[192.0.2.1>", 0, 553, "5.1.3 bad or unsupported address literal", "unclosed literal");
  BAD("TO:<a@[]>", 0, 553, "5.1.3 bad or unsupported address literal", "empty literal");

  /* limits */
  mk(buf, "TO:<", 'l', 64, "@x.example>");
  mk(want, "", 'l', 64, "@x.example");
  good(buf, 0, want, 64, "", "64-octet local part");
  mk(buf, "TO:<", 'l', 65, "@x.example>");
  BAD(buf, 0, 553, "5.1.3 local part too long", "65-octet local part");
  mk(buf, "TO:<\"", 'l', 62, "\"@x.example>");
  mk(want, "", 'l', 62, "@x.example");
  good(buf, 0, want, 62, "", "quoted 62-octet atom unquoted");
  mk(buf, "TO:<\" ", 'l', 62, "\"@x.example>");
  BAD(buf, 0, 553, "5.1.3 local part too long", "quoted 63 octets with blank: 65 octets quoted");
  mk(buf, "TO:<\" ", 'l', 61, "\"@x.example>");
  mk(want, "\" ", 'l', 61, "\"@x.example");
  good(buf, 0, want, 64, "", "quoted 62 octets with blank: 64 octets quoted");
  mk(buf, "TO:<", 'l', 300, "@x.example>");
  BAD(buf, 0, 501, "5.5.4 path too long", "300-octet local part");
  /* 256 octets with the brackets is the most a path may be */
  mk(buf, "TO:<a@", 'd', 252, ">");
  dots(buf + 6, 252);
  mk(want, "a@", 'd', 252, "");
  dots(want + 2, 252);
  good(buf, 0, want, 1, "", "path of exactly 256 octets");
  mk(buf, "TO:<a@", 'd', 253, ">");
  dots(buf + 6, 253);
  BAD(buf, 0, 501, "5.5.4 path too long", "path of 257 octets");
  mk(buf, "TO:<a@", 'd', 300, ">");
  dots(buf + 6, 300);
  BAD(buf, 0, 501, "5.5.4 path too long", "domain too long (the path limit comes first)");
  mk(buf, "TO:<a@", 'd', 64, ".example>");
  BAD(buf, 0, 553, "5.1.3 domain label too long", "64-octet label");
  mk(buf, "TO:<a@", 'd', 63, ".example>");
  mk(want, "a@", 'd', 63, ".example");
  good(buf, 0, want, 1, "", "63-octet label");

  /* every prefix of some arguments: never past len, never a crash */
  {
    static const char *const args[] = {
      "TO:<@a,@b:\"x\\\" y\"@[IPv6:2001:db8::1]> NOTIFY=NEVER",
      "FROM:<\"a\\", "FROM: <a@b.example.> SIZE=1",
    };
    size_t k, l;
    int crashed = 0;
    for (k = 0; k < sizeof args / sizeof *args; ++k)
      for (l = 0; l <= strlen(args[k]); ++l) {
        int r = parse(args[k], l, args[k][0] == 'F', &p);
        if (r != 0 && r != 501 && r != 553) crashed = 1;
        if (r != 0 && !p.err) crashed = 1;
      }
    T_OK(!crashed, "every prefix gives 0, 501 or 553 with a text");
  }
  {
    char lo[] = "AbC-Z@[X]";
    sdu_addr_lower(lo, 6);
    T_EQS(lo, "abc-z@[X]", "sdu_addr_lower folds only len bytes");
  }
  T_DONE();
}
