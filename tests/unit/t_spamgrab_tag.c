/* t_spamgrab_tag.c: rblcheck's tag checked with the site key: MAC, dates, the window */
#include <string.h>
#include "sdu_t.h"
#include "../../spamgrab/spamgrab_parse.h"
#include "../../spamgrab/spamgrab_tag.h"

static const char *const hosts[] = { "mx.example.net", 0 };

/* MACs computed apart: python3 -c 'import hmac, hashlib; print(hmac.new(bytes(range(32)), FIELDS, hashlib.sha256).hexdigest())' */
#define FIELDS "ip=198.51.100.77 lists=dul,pbl score=1 action=throttle date=2026-11-23T00:59:30Z"
#define MAC1 "f1ff9fc202d191d4d03a2a261c26b7d6c58c2eb472da9f5faa1fc7076d9b4257"
#define RECV "Received: from dyn-7.pool.example-isp.test (198.51.100.77)\n  by mx.example.net with SMTP; "

/* the client of a header block whose Received line has date and whose tag is tag, checked with k */
static sg_client run(const char *date, const char *tag, const sdu_tagkeys *k)
{
  static char h[2048];
  sg_client c;
  snprintf(h, sizeof h, RECV "%s\nX-RBLCheck: %s\nSubject: x\n", date, tag);
  sg_client_find(h, strlen(h), hosts, &c);
  if (sg_tag_check(&c, k) != 0) printf("not ok - sg_tag_check failed\n");
  return c;
}

static void date(const char *s, unsigned long long want, const char *name)
{
  unsigned long long t = 0;
  T_OK(sg_date_parse(s, &t) == 1 && t == want, name);
  if (t != want) printf("#   got %llu want %llu\n", t, want);
}

int main(void)
{
  sdu_tagkeys k1, k21, k2;
  sg_client c;
  unsigned long long t;
  unsigned int i;

  /* dates; the seconds from python3's calendar.timegm */
  date("2 Dec 2026 11:25:19 -0000", 1796210719ULL, "qmail's date");
  date("Wed, 02 Dec 2026 11:25:19 +0000", 1796210719ULL, "exim's date, with the day name");
  date("Wed, 02 Dec 2026 12:25:19 +0100 (CET)", 1796210719ULL, "+0100 and a comment");
  date("Wed, 2 Dec 2026 05:25:19 CST", 1796210719ULL, "an obsolete zone name");
  date("  2 dec 2026 10:25:19 -0100", 1796210719ULL, "leading blanks, month in lower case");
  date("2 Dec 2026 11:25 GMT", 1796210700ULL, "no seconds");
  date("29 Feb 2028 00:00:00 -0000", 1835395200ULL, "29 February of a leap year");
  date("31 Dec 99 23:59:59 -0000", 946684799ULL, "a two-digit year");
  T_OK(!sg_date_parse("", &t), "empty: no date");
  T_OK(!sg_date_parse("29 Feb 2026 00:00:00 -0000", &t), "29 February 2026: no date");
  T_OK(!sg_date_parse("32 Dec 2026 00:00:00 -0000", &t), "32 December: no date");
  T_OK(!sg_date_parse("2 Dez 2026 00:00:00 -0000", &t), "an unknown month: no date");
  T_OK(!sg_date_parse("2 Dec 2026 24:00:00 -0000", &t), "hour 24: no date");
  T_OK(!sg_date_parse("2 Dec 2026 11:25:19 +01", &t), "a short offset: no date");
  T_OK(sg_tag_date("2026-12-02T11:25:19Z", 20, &t) && t == 1796210719ULL, "rblcheck's date=");
  T_OK(!sg_tag_date("2026-12-02 11:25:19Z", 20, &t), "rblcheck's date= with a blank: no");
  T_OK(!sg_tag_date("2026-13-02T11:25:19Z", 20, &t), "month 13: no");
  T_OK(!sg_tag_date("2026-12-02T11:25:19", 19, &t), "no Z: no");

  memset(&k1, 0, sizeof k1);
  k1.n = 1;
  for (i = 0; i < SDU_TAG_KEY_BYTES; ++i) k1.key[0][i] = (unsigned char) i;
  memset(&k2, 0, sizeof k2);
  k2.n = 1;
  for (i = 0; i < SDU_TAG_KEY_BYTES; ++i) k2.key[0][i] = (unsigned char) (i + 32);
  k21 = k2;
  k21.n = 2;
  memcpy(k21.key[1], k1.key[0], SDU_TAG_KEY_BYTES);

  /* without a key: today's rule */
  c = run("23 Nov 2026 00:59:59 -0000", "ip=198.51.100.77 lists=dul,pbl action=throttle", 0);
  T_OK(c.tag && !strcmp(c.lists, "dul,pbl") && !strcmp(c.tagstate, "trusted"), "no key: an unsigned tag is believed");
  c = run("23 Nov 2026 00:59:59 -0000", "ip=198.51.100.78 lists=dul,pbl action=throttle", 0);
  T_OK(!c.tag && !strcmp(c.tagstate, "none") && c.untrusted_tags == 1, "no key: another address is not");

  /* with a key */
  c = run("23 Nov 2026 00:59:59 -0000", FIELDS " mac=" MAC1, &k1);
  T_OK(c.tag && !strcmp(c.lists, "dul,pbl") && !strcmp(c.tagstate, "trusted") && !c.untrusted_tags, "key: the signed tag is believed");
  c = run("23 Nov 2026 00:59:59 -0000", FIELDS " mac=" MAC1, &k21);
  T_OK(c.tag && !strcmp(c.tagstate, "trusted"), "two keys: a tag signed with the old (second) one is believed");
  c = run("23 Nov 2026 00:59:59 -0000", FIELDS " mac=" MAC1, &k2);
  T_OK(!c.tag && !*c.lists && !strcmp(c.tagstate, "badmac") && c.untrusted_tags == 1, "key: a tag under another key: badmac");
  c = run("23 Nov 2026 00:59:59 -0000", FIELDS, &k1);
  T_OK(!c.tag && !strcmp(c.tagstate, "nomac") && c.untrusted_tags == 1, "key: an unsigned tag: nomac");
  c = run("23 Nov 2026 00:59:59 -0000", "ip=198.51.100.77 lists=dul,pbl score=1 action=throttle date=2026-11-23T00:59:30Z mac=0000000000000000000000000000000000000000000000000000000000000000", &k1);
  T_OK(!c.tag && !strcmp(c.tagstate, "badmac"), "key: a wrong mac: badmac");
  c = run("23 Nov 2026 00:59:59 -0000", "ip=198.51.100.77 lists=dul,pbl,sbl score=1 action=throttle date=2026-11-23T00:59:30Z mac=" MAC1, &k1);
  T_OK(!c.tag && !strcmp(c.tagstate, "badmac"), "key: a list added under the right mac: badmac");
  c = run("23 Nov 2026 00:59:59 -0000", FIELDS "\n mac=" MAC1, &k1);
  T_OK(!c.tag && !strcmp(c.tagstate, "nomac"), "key: the mac folded onto a second line: nomac (one physical line)");
  c = run("23 Nov 2026 00:59:59 -0000", FIELDS " mac=" MAC1 "\r", &k1);
  T_OK(c.tag, "key: a CR at the line end is no part of it");

  /* the window: the tag's date within an hour of our Received line's */
  c = run("23 Nov 2026 01:59:30 -0000", FIELDS " mac=" MAC1, &k1);
  T_OK(c.tag && !strcmp(c.tagstate, "trusted"), "Received 3600 s after the tag: believed");
  c = run("23 Nov 2026 01:59:31 -0000", FIELDS " mac=" MAC1, &k1);
  T_OK(!c.tag && !strcmp(c.tagstate, "stale") && c.untrusted_tags == 1, "3601 s after: stale (copied from an older message)");
  c = run("22 Nov 2026 23:59:30 -0000", FIELDS " mac=" MAC1, &k1);
  T_OK(c.tag, "3600 s before: believed");
  c = run("22 Nov 2026 23:59:29 -0000", FIELDS " mac=" MAC1, &k1);
  T_OK(!c.tag && !strcmp(c.tagstate, "stale"), "3601 s before: stale");
  c = run("Mon, 23 Nov 2026 01:59:30 +0100", FIELDS " mac=" MAC1, &k1);
  T_OK(c.tag, "Received in +0100: the same hour");
  c = run("sometime", FIELDS " mac=" MAC1, &k1);
  T_OK(!c.tag && !strcmp(c.tagstate, "stale"), "a Received date that cannot be read: stale");
  T_DONE();
}
