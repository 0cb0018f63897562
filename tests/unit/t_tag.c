/* t_tag.c: the tag key file and the tag's MAC, against MACs computed apart (python3's hmac, openssl dgst) */
#include <unistd.h>
#include <stdlib.h>
#include <errno.h>
#include <sys/stat.h>
#include "sdu_t.h"
#include "sdu_tag.h"

static char dir[256];

#define K1 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define K2 "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
#define FIELDS "ip=192.0.2.7 lists=dul score=1 action=throttle date=2026-12-02T11:00:00Z"
/* printf '%s' FIELDS | openssl dgst -sha256 -mac HMAC -macopt hexkey:K1 (and K2);
   python3: hmac.new(bytes.fromhex(K1), FIELDS, hashlib.sha256).hexdigest() */
#define MAC1 "9ca772147b4767b258877ac267d489a15663c1f0ed509409385db2207245fd56"
#define MAC2 "529a85aa8b80982c2a440e74a6dab0b2a27a8a44c77923de593ea104b290335b"

/* the key file with text; sdu_tagkeys_load's result, err NUL-terminated */
static int load(sdu_tagkeys *k, const char *text, stralloc *err)
{
  char path[300];
  int fd, r;
  snprintf(path, sizeof path, "%s/key", dir);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t) strlen(text) || close(fd) == -1) {
    printf("not ok - cannot write %s\n", path);
    exit(1);
  }
  err->len = 0;
  r = sdu_tagkeys_load(k, path, err);
  if (!stralloc_0(err)) exit(111);
  return r;
}

static void bad(const char *text, const char *want, const char *name)
{
  sdu_tagkeys k;
  stralloc err = { 0 };
  char full[400];
  T_EQI(load(&k, text, &err), 0, name);
  snprintf(full, sizeof full, "%s/key%s", dir, want);
  T_EQS(err.s, full, "  its message, with file and line");
  T_EQI(k.n, 0, "  no key kept");
  stralloc_free(&err);
}

static int check(const sdu_tagkeys *k, const char *line, unsigned int *which)
{
  return sdu_tag_verify(k, line, strlen(line), which);
}

int main(void)
{
  sdu_tagkeys k;
  stralloc err = { 0 }, sa = { 0 };
  unsigned int which = 9, i;
  char path[300];

  snprintf(dir, sizeof dir, "tests/tmp/t_tag.%ld", (long) getpid());
  mkdir("tests", 0755);
  mkdir("tests/tmp", 0755);
  if (mkdir(dir, 0755) == -1) { printf("not ok - cannot make %s\n", dir); return 1; }

  /* the key file */
  T_EQI(load(&k, K1 "\n", &err), 1, "one key");
  T_OK(k.n == 1 && k.key[0][0] == 0 && k.key[0][31] == 31, "  its 32 bytes");
  T_EQI(load(&k, "# the site key\n\n" K2 "\r\n" K1 "   # old, until the 9th\n", &err), 1, "two keys, comments, CRLF");
  T_OK(k.n == 2 && k.key[0][0] == 32 && k.key[1][31] == 31, "  the first is the new one");
  T_EQI(load(&k, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F\n", &err), 1, "upper-case hex");
  T_OK(k.key[0][10] == 10, "  read alike");
  bad(K1 "00\n", " line 1: not a key: 64 hex digits (32 bytes) expected", "a key too long: 100");
  bad("\n" "0001020304", " line 2: not a key: 64 hex digits (32 bytes) expected", "a key too short");
  bad("g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", " line 1: not a key: 64 hex digits (32 bytes) expected", "not hex");
  bad(K1 " " K2 "\n", " line 1: one key a line", "two keys on a line");
  bad(K1 "\n" K2 "\n" K1 "\n", " line 3: more than two keys", "three keys");
  bad("# nothing\n", ": no key", "no key at all");
  bad("", ": no key", "an empty file");
  snprintf(path, sizeof path, "%s/none", dir);
  err.len = 0;
  errno = 0;
  T_EQI(sdu_tagkeys_load(&k, path, &err), -1, "a missing file: -1 (111)");
  T_EQI(errno, ENOENT, "  errno says why");
  stralloc_0(&err);
  T_OK(!strncmp(err.s, "unable to read ", 15), "  unable to read FILE");

  /* sign: the MAC of the fields under the first key */
  load(&k, K1 "\n" K2 "\n", &err);
  T_OK(stralloc_copys(&sa, FIELDS) && sdu_tag_sign(&sa, &k, sa.s, sa.len) == 1, "sign");
  T_EQB(sa.s, sa.len, FIELDS " mac=" MAC1, "  the known MAC, under the first key");

  /* verify */
  T_EQI(check(&k, FIELDS " mac=" MAC1, &which), SDU_TAG_OK, "verify: the first key");
  T_EQI(which, 0, "  key 0");
  T_EQI(check(&k, FIELDS " mac=" MAC2, &which), SDU_TAG_OK, "verify: the second (old) key");
  T_EQI(which, 1, "  key 1");
  load(&k, K1 "\n", &err);
  T_EQI(check(&k, FIELDS " mac=" MAC2, &which), SDU_TAG_BADMAC, "the old key gone: bad");
  T_EQI(check(&k, FIELDS, &which), SDU_TAG_NOMAC, "no mac");
  T_EQI(check(&k, FIELDS " mac=", &which), SDU_TAG_BADMAC, "an empty mac");
  T_EQI(check(&k, FIELDS " mac=" MAC1 " lists=sbl", &which), SDU_TAG_NOMAC, "mac not the last word");
  T_EQI(check(&k, FIELDS " mac=" "9CA772147B4767B258877AC267D489A15663C1F0ED509409385DB2207245FD56", &which), SDU_TAG_BADMAC,
    "upper-case mac: not as rblcheck writes it");
  T_EQI(check(&k, FIELDS " mac=" MAC1 "00", &which), SDU_TAG_BADMAC, "mac too long");
  T_EQI(check(&k, "ip=192.0.2.8 lists=dul score=1 action=throttle date=2026-12-02T11:00:00Z mac=" MAC1, &which),
    SDU_TAG_BADMAC, "another address under the same mac");
  T_EQI(check(&k, "ip=192.0.2.7 lists=dul score=1 action=throttle date=2026-12-02T11:00:01Z mac=" MAC1, &which),
    SDU_TAG_BADMAC, "another time under the same mac");
  T_EQI(check(&k, "ip=192.0.2.7 lists=dul  score=1 action=throttle date=2026-12-02T11:00:00Z mac=" MAC1, &which),
    SDU_TAG_BADMAC, "one blank more");
  T_EQI(check(&k, "mac=" MAC1, &which), SDU_TAG_NOMAC, "a mac alone");
  T_EQI(check(&k, FIELDS " mac=" MAC1 " mac=" MAC1, &which), SDU_TAG_BADMAC, "mac= twice: the last covers the first");
  for (i = 0; i < 64; ++i) {
    char line[200];
    snprintf(line, sizeof line, "%s mac=%s", FIELDS, MAC1);
    line[strlen(FIELDS) + 5 + i] = line[strlen(FIELDS) + 5 + i] == '0' ? '1' : '0';
    if (check(&k, line, &which) != SDU_TAG_BADMAC) break;
  }
  T_EQI(i, 64, "any one hex digit changed: bad");

  sdu_tagkeys_wipe(&k);
  T_OK(k.n == 0 && k.key[0][1] == 0, "wipe");
  stralloc_free(&err);
  stralloc_free(&sa);
  snprintf(path, sizeof path, "%s/key", dir);
  unlink(path);
  rmdir(dir);
  T_DONE();
}
