/* sdu_addr.c: the path of MAIL FROM and RCPT TO (RFC 5321 4.1.2), to a canonical address */
#include <string.h>
#include <arpa/inet.h>
#include "sdu_addr.h"

/* errors in the address itself: 553, with the enhanced code of RFC 3463
   for a recipient (5.1.3) or a sender (5.1.7) */
enum { A_SYNTAX, A_LOCALLEN, A_LOCALEMPTY, A_NODOMAIN, A_DOMAINEMPTY,
  A_DOMAIN, A_DOMAINLEN, A_LABELLEN, A_LITERAL, A_NULLRCPT, A_8BIT };
static const char *const atext_err[][2] = {
  { "5.1.3 bad recipient address syntax", "5.1.7 bad sender address syntax" },
  { "5.1.3 local part too long", "5.1.7 local part too long" },
  { "5.1.3 empty local part", "5.1.7 empty local part" },
  { "5.1.3 address must contain a domain", "5.1.7 address must contain a domain" },
  { "5.1.3 empty domain", "5.1.7 empty domain" },
  { "5.1.3 bad domain syntax", "5.1.7 bad domain syntax" },
  { "5.1.3 domain too long", "5.1.7 domain too long" },
  { "5.1.3 domain label too long", "5.1.7 domain label too long" },
  { "5.1.3 bad or unsupported address literal", "5.1.7 bad or unsupported address literal" },
  { "5.1.3 null recipient not allowed", "5.1.3 null recipient not allowed" },
  { "5.6.7 non-ASCII address not supported", "5.6.7 non-ASCII address not supported" },
};

static int cmd_fail(sdu_path *p, const char *e) { p->err = e; return 501; }

static int addr_fail(sdu_path *p, int ismail, int which)
{
  p->err = atext_err[which][ismail ? 1 : 0];
  p->addr[0] = 0;
  p->len = p->atpos = 0;
  return 553;
}

static int is_alnum(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_atext(unsigned char c)
{
  return is_alnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

void sdu_addr_lower(char *s, size_t len)
{
  size_t i;
  for (i = 0; i < len; ++i) s[i] = (char) lower((unsigned char) s[i]);
}

static int case_eq(const char *a, const char *b, size_t n)
{
  size_t i;
  for (i = 0; i < n; ++i) if (lower((unsigned char) a[i]) != lower((unsigned char) b[i])) return 0;
  return 1;
}

/* Dot-string: atoms of atext joined by single dots */
static int dot_atom(const char *s, size_t n)
{
  size_t i;
  if (!n || s[0] == '.' || s[n - 1] == '.') return 0;
  for (i = 0; i < n; ++i) {
    if (s[i] == '.') { if (s[i - 1] == '.') return 0; }
    else if (!is_atext((unsigned char) s[i])) return 0;
  }
  return 1;
}

/* a domain name without trailing dot; -1 ok, else an A_ error */
static int check_name(const char *d, size_t n)
{
  size_t i, start = 0;
  if (!n) return A_DOMAINEMPTY;
  if (n > SDU_DOMAIN_MAX) return A_DOMAINLEN;
  for (i = 0; i <= n; ++i) {
    if (i == n || d[i] == '.') {
      size_t l = i - start;
      if (!l) return A_DOMAIN;
      if (l > SDU_LABEL_MAX) return A_LABELLEN;
      if (d[start] == '-' || d[i - 1] == '-') return A_DOMAIN;
      start = i + 1;
    } else if (!is_alnum((unsigned char) d[i]) && d[i] != '-') return A_DOMAIN;
  }
  return -1;
}

static int ipv4_literal(const char *s, size_t n)
{
  size_t i = 0;
  int part;
  for (part = 0; part < 4; ++part) {
    unsigned int v = 0, digits = 0;
    if (part) { if (i >= n || s[i] != '.') return 0; ++i; }
    while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4) { v = v * 10 + (unsigned int) (s[i] - '0'); ++i; ++digits; }
    if (!digits || digits > 3 || v > 255) return 0;
  }
  return i == n;
}

static int ipv6_literal(const char *s, size_t n)
{
  char tmp[64];
  unsigned char bin[16];
  if (!n || n >= sizeof tmp) return 0;
  memcpy(tmp, s, n);
  tmp[n] = 0;
  return inet_pton(AF_INET6, tmp, bin) == 1;
}

/* domain or address literal d[0..n) appended to out in canonical form
   (out may be 0 to only check); -1 ok, else an A_ error */
static int domain(const char *d, size_t n, char *out, size_t *olen)
{
  int r;
  if (n && d[0] == '[') {
    const char *in = d + 1;
    size_t il;
    if (n < 2 || d[n - 1] != ']') return A_LITERAL;
    il = n - 2;
    if (il > 5 && case_eq(in, "IPv6:", 5)) {
      if (!ipv6_literal(in + 5, il - 5)) return A_LITERAL;
      if (out) {
        memcpy(out + *olen, "[IPv6:", 6);
        memcpy(out + *olen + 6, in + 5, il - 5);
        sdu_addr_lower(out + *olen + 6, il - 5);
        out[*olen + n - 1] = ']';
        *olen += n;
      }
      return -1;
    }
    if (!ipv4_literal(in, il)) return A_LITERAL;
    if (out) { memcpy(out + *olen, d, n); *olen += n; }
    return -1;
  }
  if (n && d[n - 1] == '.') --n;
  r = check_name(d, n);
  if (r != -1) return r;
  if (out) { memcpy(out + *olen, d, n); sdu_addr_lower(out + *olen, n); *olen += n; }
  return -1;
}

/* keyword[=value] separated by spaces (RFC 5321 4.1.2 Mail-parameters) */
static int params_ok(const char *s, size_t n)
{
  size_t i = 0;
  while (i < n) {
    if (s[i] == ' ') { ++i; continue; }
    if (!is_alnum((unsigned char) s[i])) return 0;
    while (i < n && (is_alnum((unsigned char) s[i]) || s[i] == '-')) ++i;
    if (i < n && s[i] == '=') {
      size_t v = ++i;
      while (i < n && s[i] > 32 && s[i] < 127) ++i;
      if (i == v) return 0;
    }
    if (i < n && s[i] != ' ') return 0;
  }
  return 1;
}

/* the path between < and >, s[0..n), n <= SDU_PATH_MAX - 2 */
static int mailbox(const char *s, size_t n, int ismail, sdu_path *p)
{
  char *out = p->addr;
  size_t j = 0, o = 0, i;
  int r;

  for (i = 0; i < n; ++i) if ((unsigned char) s[i] > 126) return addr_fail(p, ismail, A_8BIT);
  /* A-d-l: "@one,@two:" is accepted and ignored (RFC 5321 4.1.2, C.) */
  if (s[0] == '@') {
    for (;;) {
      size_t start;
      if (j >= n || s[j] != '@') return addr_fail(p, ismail, A_SYNTAX);
      start = ++j;
      while (j < n && s[j] != ',' && s[j] != ':') ++j;
      if (j >= n) return addr_fail(p, ismail, A_SYNTAX);
      r = domain(s + start, j - start, 0, 0);
      if (r != -1) return addr_fail(p, ismail, r);
      if (s[j++] == ':') break;
    }
  }
  if (j >= n) return addr_fail(p, ismail, A_SYNTAX);
  if (s[j] == '"') {
    /* the content without quotes, then quoted again only if it must be */
    char q[SDU_PATH_MAX];
    size_t ql = 0;
    for (++j; ; ++j) {
      if (j >= n) return addr_fail(p, ismail, A_SYNTAX);
      if (s[j] == '"') break;
      if (s[j] == '\\') { if (++j >= n) return addr_fail(p, ismail, A_SYNTAX); }
      q[ql++] = s[j];
    }
    ++j;
    if (j < n && s[j] != '@') return addr_fail(p, ismail, A_SYNTAX);
    if (!ql) return addr_fail(p, ismail, A_LOCALEMPTY);
    if (dot_atom(q, ql)) { memcpy(out, q, ql); o = ql; }
    else {
      out[o++] = '"';
      for (i = 0; i < ql; ++i) {
        if (q[i] == '"' || q[i] == '\\') { if (o >= SDU_ADDR_MAX) return addr_fail(p, ismail, A_LOCALLEN); out[o++] = '\\'; }
        if (o >= SDU_ADDR_MAX) return addr_fail(p, ismail, A_LOCALLEN);
        out[o++] = q[i];
      }
      if (o >= SDU_ADDR_MAX) return addr_fail(p, ismail, A_LOCALLEN);
      out[o++] = '"';
    }
  } else {
    size_t start = j;
    while (j < n && s[j] != '@') ++j;
    if (j == start) return addr_fail(p, ismail, A_LOCALEMPTY);
    if (!dot_atom(s + start, j - start)) return addr_fail(p, ismail, A_SYNTAX);
    memcpy(out, s + start, j - start);
    o = j - start;
  }
  if (o > SDU_LOCAL_MAX) return addr_fail(p, ismail, A_LOCALLEN);

  if (j >= n) {
    /* RFC 5321 4.5.1: <postmaster> without domain, for RCPT only */
    if (!ismail && o == 10 && case_eq(out, "postmaster", 10)) {
      memcpy(out, "postmaster", 10);
      out[10] = 0;
      p->len = p->atpos = 10;
      return 0;
    }
    return addr_fail(p, ismail, A_NODOMAIN);
  }
  p->atpos = o;
  out[o++] = '@';
  ++j;
  if (j >= n) return addr_fail(p, ismail, A_DOMAINEMPTY);
  /* the canonical domain is never longer than the one written */
  if (n - j > SDU_ADDR_MAX - o) return addr_fail(p, ismail, A_DOMAINLEN);
  r = domain(s + j, n - j, out, &o);
  if (r != -1) return addr_fail(p, ismail, r);
  out[o] = 0;
  p->len = o;
  return 0;
}

int sdu_smtp_path(const char *arg, size_t len, int ismail, sdu_path *p)
{
  const char *verb = ismail ? "FROM:" : "TO:";
  size_t vlen = ismail ? 5 : 3;
  size_t i, open, close;
  int quoted = 0;

  p->addr[0] = 0;
  p->len = p->atpos = 0;
  p->null = 0;
  p->params = arg ? arg + len : "";
  p->paramslen = 0;
  p->err = 0;
  if (!arg) len = 0;

  for (i = 0; i < len; ++i) {
    unsigned char c = (unsigned char) arg[i];
    if (!c) return cmd_fail(p, "5.5.2 NUL byte in command");
    if (c < 32 || c == 127) return cmd_fail(p, "5.5.2 control character in command");
  }
  if (len < vlen || !case_eq(arg, verb, vlen))
    return cmd_fail(p, ismail ? "5.5.2 syntax error, expected FROM:<address>" : "5.5.2 syntax error, expected TO:<address>");
  i = vlen;
  while (i < len && arg[i] == ' ') ++i;
  if (i >= len || arg[i] != '<') return cmd_fail(p, "5.5.4 path must be enclosed in <>");
  open = i;
  /* the first '>' outside a quoted string ends the path */
  for (++i; i < len; ++i) {
    if (quoted) {
      if (arg[i] == '\\') { ++i; continue; }
      if (arg[i] == '"') quoted = 0;
    } else if (arg[i] == '"') quoted = 1;
    else if (arg[i] == '>') break;
  }
  if (i >= len) return cmd_fail(p, "5.5.4 path must be enclosed in <>");
  close = i;
  if (close - open + 1 > SDU_PATH_MAX) return cmd_fail(p, "5.5.4 path too long");

  i = close + 1;
  if (i < len) {
    if (arg[i] != ' ') return cmd_fail(p, "5.5.4 junk after path");
    while (i < len && arg[i] == ' ') ++i;
    if (!params_ok(arg + i, len - i)) return cmd_fail(p, "5.5.4 bad parameter syntax");
    p->params = arg + i;
    p->paramslen = len - i;
  }

  if (close == open + 1) {
    if (!ismail) return addr_fail(p, ismail, A_NULLRCPT);
    p->null = 1;
    return 0;
  }
  return mailbox(arg + open + 1, close - open - 1, ismail, p);
}
