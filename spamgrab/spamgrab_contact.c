/* spamgrab_contact.c: the abuse contact of a host's network: DNS TXT zones, then abuse@ its registered domain */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <libpsl.h>
#include "sdu_dns.h"
#include "sdu_ip.h"
#include "spamgrab_out.h"
#include "spamgrab_contact.h"

static int hostname_ok(const char *h, size_t n)
{
  size_t i;
  if (!n || n > 253 || h[0] == '.' || h[0] == '-') return 0;
  for (i = 0; i < n; ++i) {
    char c = h[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) return 0;
    if (c == '.' && i && h[i - 1] == '.') return 0;
  }
  return strchr(h, '.') != 0;
}

int sg_registered_domain(const char *pslfile, const char *host, char *out, size_t max)
{
  char buf[256];
  size_t n = strlen(host), i;
  psl_ctx_t *psl;
  const char *r;
  int ok = 0;
  if (n && host[n - 1] == '.') --n;
  if (n >= sizeof buf) return 0;
  for (i = 0; i < n; ++i) buf[i] = host[i] >= 'A' && host[i] <= 'Z' ? (char) (host[i] + 32) : host[i];
  buf[n] = 0;
  if (!hostname_ok(buf, n)) return 0;
  psl = pslfile ? psl_load_file(pslfile) : psl_latest(0);
  if (!psl) return -1;
  r = psl_registrable_domain(psl, buf);
  if (r && strlen(r) < max) { strcpy(out, r); ok = 1; }
  psl_free(psl);
  return ok;
}

/* the first TXT string of q that is an address */
static int txtaddr(const sdu_dnsq *q, char *addr, size_t max)
{
  size_t pos = 0, len;
  const char *s;
  while (sdu_dnsq_next(q, &pos, &s, &len)) {
    char buf[SG_ADDR_MAX + 1];
    size_t a = 0;
    while (a < len && s[a] == ' ') ++a;
    while (len > a && s[len - 1] == ' ') --len;
    if (len - a > SG_ADDR_MAX || len - a >= max) continue;
    memcpy(buf, s + a, len - a);
    buf[len - a] = 0;
    if (strncmp(buf, "mailto:", 7) == 0) memmove(buf, buf + 7, strlen(buf + 7) + 1);
    if (sg_addr_ok(buf)) { strcpy(addr, buf); return 1; }
  }
  return 0;
}

static int tempfail(const sdu_dnsq *q) { return q->status == SDU_DNS_TIMEOUT || q->status == SDU_DNS_FAIL || q->status == SDU_DNS_PENDING; }

int sg_contact(const sg_conf *c, const sg_client *cl, char *addr, size_t addrmax,
  char *how, size_t howmax, stralloc *err)
{
  sdu_dnsq q[SG_ZONES_MAX + 1];
  stralloc names[SG_ZONES_MAX + 1];
  char host[256], dom[256];
  unsigned int i, n = 0;
  int ptrq = -1, r = 0, zq[SG_ZONES_MAX], ptrfail = 0;
  memset(q, 0, sizeof q);
  memset(names, 0, sizeof names);
  *host = *dom = 0;
  err->len = 0;
  for (i = 0; i < c->nzones; ++i) zq[i] = -1;

  /* first round: the reverse name and the per-address zones */
  if (c->ptr) {
    if (!sdu_ip_revname(&names[n], &cl->ip, cl->ip.v6 ? "ip6.arpa" : "in-addr.arpa") || !stralloc_0(&names[n])) goto nomem;
    sdu_dnsq_init(&q[n], names[n].s, SDU_DNS_PTR);
    ptrq = (int) n++;
  }
  for (i = 0; i < c->nzones; ++i) {
    if (!c->zones[i].perip) continue;
    if (!sdu_ip_revname(&names[n], &cl->ip, c->zones[i].zone) || !stralloc_0(&names[n])) goto nomem;
    sdu_dnsq_init(&q[n], names[n].s, SDU_DNS_TXT);
    zq[i] = (int) n;
    ++n;
  }
  if (n && sdu_dns_run(q, n, c->dnstimeout, 0, 0) == -1) {
    if (!stralloc_copys(err, "no DNS server")) err->len = 0;
    r = -1;
    goto done;
  }
  if (ptrq >= 0 && q[ptrq].status == SDU_DNS_OK) {
    size_t pos = 0, len;
    const char *s;
    if (sdu_dnsq_next(&q[ptrq], &pos, &s, &len) && len < sizeof host) { memcpy(host, s, len); host[len] = 0; }
  }
  /* the name asked anew and not answered: whatever needs it is a temporary
     failure, as for a contact zone; no name (NXDOMAIN, no PTR, REFUSED,
     SERVFAIL): the one tcpserver found when the spam came */
  /* REFUSED and SERVFAIL from every server are final answers (the
     resolver has done its retries): no reverse name. Only silence is worth
     qmail's retry. */
  if (ptrq >= 0 && (q[ptrq].status == SDU_DNS_TIMEOUT || q[ptrq].status == SDU_DNS_PENDING)) ptrfail = 1;
  else if (!*host && strcmp(cl->rdns, "unknown") && strlen(cl->rdns) < sizeof host) strcpy(host, cl->rdns);
  if (*host) {
    int d = sg_registered_domain(c->psl, host, dom, sizeof dom);
    if (d == -1) {
      if (!stralloc_copys(err, "unable to load the Public Suffix List")) err->len = 0;
      r = -1;
      goto done;
    }
    if (!d) *dom = 0;
  }
  /* second round: the per-domain zones */
  if (*dom) {
    unsigned int first = n;
    for (i = 0; i < c->nzones; ++i) {
      if (c->zones[i].perip) continue;
      if (!stralloc_copys(&names[n], dom) || !stralloc_append(&names[n], ".") ||
          !stralloc_cats(&names[n], c->zones[i].zone) || !stralloc_0(&names[n])) goto nomem;
      if (names[n].len - 1 > SDU_DNS_NAMEMAX) continue;
      sdu_dnsq_init(&q[n], names[n].s, SDU_DNS_TXT);
      zq[i] = (int) n++;
    }
    if (n > first && sdu_dns_run(q + first, n - first, c->dnstimeout, 0, 0) == -1) {
      if (!stralloc_copys(err, "no DNS server")) err->len = 0;
      r = -1;
      goto done;
    }
  }
  /* the zones in the order configured; one that did not answer might have known better */
  for (i = 0; i < c->nzones; ++i) {
    if (zq[i] < 0 && ptrfail && !c->zones[i].perip) goto noptr; /* asked for a domain we lack */
    if (zq[i] < 0) continue;
    if (tempfail(&q[zq[i]])) {
      if (!stralloc_copys(err, "no answer for ") || !stralloc_cats(err, q[zq[i]].name)) err->len = 0;
      r = -1;
      goto done;
    }
    if (q[zq[i]].status == SDU_DNS_OK && txtaddr(&q[zq[i]], addr, addrmax)) {
      snprintf(how, howmax, "zone:%s", c->zones[i].zone);
      r = 1;
      goto done;
    }
  }
  if (ptrfail) goto noptr;
  if (*dom && strlen(dom) + 7 < addrmax) {
    memcpy(addr, "abuse@", 6);
    strcpy(addr + 6, dom);
    if (sg_addr_ok(addr)) { snprintf(how, howmax, "rfc2142"); r = 1; goto done; }
  }
  snprintf(how, howmax, *host ? "no-registered-domain" : "no-reverse-dns");
  r = 0;
  goto done;
noptr:
  if (!stralloc_copys(err, "no answer for ") || !stralloc_cats(err, q[ptrq].name)) err->len = 0;
  r = -1;
  goto done;
nomem:
  if (!stralloc_copys(err, "out of memory")) err->len = 0;
  r = -1;
done:
  sdu_dnsq_free(q, SG_ZONES_MAX + 1);
  for (i = 0; i < SG_ZONES_MAX + 1; ++i) stralloc_free(&names[i]);
  return r;
}
