/* t_cdb.c: cdb lookups on tables built by tinycdb's cdb -c, damaged files, replacement by rename */
#include <unistd.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <uint32.h>
#include "sdu_t.h"
#include "sdu_cdb.h"

static char dir[256];

static char *readfile(const char *name, size_t *len)
{
  struct stat st;
  char *b;
  int fd = open(name, O_RDONLY);
  if (fd == -1 || fstat(fd, &st) == -1) exit(111);
  b = malloc((size_t) st.st_size + 1);
  if (!b || read(fd, b, (size_t) st.st_size) != st.st_size) exit(111);
  close(fd);
  *len = (size_t) st.st_size;
  return b;
}

/* cdb -c [-m] DIR/name < input; 0 ok */
static int build(const char *name, int map, const char *input, size_t len)
{
  char in[400], cmd[1000];
  snprintf(in, sizeof in, "%s/%s.in", dir, name);
  if (t_writefile(in, input, len) == -1) return -1;
  snprintf(cmd, sizeof cmd, "cdb -c %s %s/%s < %s", map ? "-m" : "", dir, name, in);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *file(const char *name)
{
  static char f[400];
  snprintf(f, sizeof f, "%s/%s", dir, name);
  return f;
}

static int get(sdu_cdb *d, const char *key, size_t klen, stralloc *val)
{
  return sdu_cdb_get(d, key, klen, val);
}

#define GETS(d, key, val) get((d), (key), strlen(key), (val))

/* a native-format record "+klen,dlen:key->data\n" */
static void rec(stralloc *sa, const char *k, size_t kl, const char *v, size_t vl)
{
  char num[64];
  snprintf(num, sizeof num, "+%lu,%lu:", (unsigned long) kl, (unsigned long) vl);
  if (!stralloc_cats(sa, num) || !stralloc_catb(sa, k, kl) || !stralloc_cats(sa, "->")
      || !stralloc_catb(sa, v, vl) || !stralloc_cats(sa, "\n")) exit(111);
}

int main(void)
{
  sdu_cdb d, d2;
  stralloc val = {0}, in = {0};
  unsigned int i;
  int r, bad;

  snprintf(dir, sizeof dir, "tests/tmp/t_cdb.%ld", (long) getpid());
  mkdir("tests/tmp", 0755);
  if (mkdir(dir, 0755) == -1) { printf("not ok - cannot make %s\n", dir); return 1; }
  if (system("command -v cdb >/dev/null 2>&1") != 0) {
    T_SKIP("cdb lookups", "tinycdb's cdb tool is not installed");
    T_DONE();
  }

  errno = 0;
  T_EQI(sdu_cdb_open(&d, file("none.cdb")), -1, "missing file");
  T_EQI(errno, ENOENT, "missing file: ENOENT");

  {
    static const char m[] = "alice@example.org 1\n# comment\nbob@example.org hello world\n\ndup first\ndup second\n";
    T_EQI(build("map.cdb", 1, m, sizeof m - 1), 0, "cdb -c -m builds");
  }
  T_EQI(sdu_cdb_open(&d, file("map.cdb")), 0, "open");
  T_OK(fcntl(d.fd, F_GETFD) & FD_CLOEXEC, "close-on-exec");
  T_EQI(GETS(&d, "alice@example.org", &val), 1, "hit");
  T_EQB(val.s, val.len, "1", "hit: data");
  T_EQI(GETS(&d, "bob@example.org", &val), 1, "hit with blank in data");
  T_EQB(val.s, val.len, "hello world", "data after the first blank");
  T_EQI(GETS(&d, "carol@example.org", &val), 0, "miss");
  T_EQI(GETS(&d, "ALICE@example.org", &val), 0, "keys are exact");
  T_EQI(GETS(&d, "alice@example.or", &val), 0, "prefix of a key misses");
  T_EQI(GETS(&d, "dup", &val), 1, "duplicate key");
  T_EQB(val.s, val.len, "first", "duplicate key: first record");
  T_EQI(sdu_cdb_exists(&d, "alice@example.org", 17), 1, "exists: hit");
  T_EQI(sdu_cdb_exists(&d, "nobody", 6), 0, "exists: miss");
  sdu_cdb_close(&d);
  T_EQI(d.fd, -1, "closed");
  sdu_cdb_close(&d); /* twice is harmless */

  /* native format: binary keys, empty data, empty key, data at the bound */
  {
    char *big = malloc(SDU_CDB_DATA_MAX + 1);
    if (!big) return 111;
    memset(big, 'x', SDU_CDB_DATA_MAX + 1);
    big[0] = 'A';
    in.len = 0;
    rec(&in, "a\0b", 3, "nul", 3);
    rec(&in, "\n\xff ", 3, "nl", 2);
    rec(&in, "empty", 5, "", 0);
    rec(&in, "", 0, "emptykey", 8);
    rec(&in, "max", 3, big, SDU_CDB_DATA_MAX);
    rec(&in, "over", 4, big, SDU_CDB_DATA_MAX + 1);
    stralloc_cats(&in, "\n");
    T_EQI(build("bin.cdb", 0, in.s, in.len), 0, "native format builds");
    T_EQI(sdu_cdb_open(&d, file("bin.cdb")), 0, "open native");
    T_EQI(get(&d, "a\0b", 3, &val), 1, "key with NUL");
    T_EQB(val.s, val.len, "nul", "key with NUL: data");
    T_EQI(get(&d, "a", 1, &val), 0, "key cut at NUL misses");
    T_EQI(get(&d, "\n\xff ", 3, &val), 1, "key with newline and 8-bit byte");
    T_EQB(val.s, val.len, "nl", "binary key: data");
    val.len = 0;
    stralloc_copys(&val, "leftover");
    T_EQI(GETS(&d, "empty", &val), 1, "empty data is a hit");
    T_EQI(val.len, 0, "empty data: length 0");
    T_OK(val.s != 0, "empty data: buffer usable");
    T_EQI(get(&d, "", 0, &val), 1, "empty key");
    T_EQB(val.s, val.len, "emptykey", "empty key: data");
    T_EQI(GETS(&d, "max", &val), 1, "data of exactly DATA_MAX");
    T_OK(val.len == SDU_CDB_DATA_MAX && val.s[0] == 'A' && val.s[val.len - 1] == 'x', "DATA_MAX data complete");
    errno = 0;
    T_EQI(GETS(&d, "over", &val), -1, "data over DATA_MAX refused");
    T_EQI(errno, EMSGSIZE, "data over DATA_MAX: EMSGSIZE");
    T_EQI(sdu_cdb_exists(&d, "over", 4), 1, "exists does not fetch: large data exists");
    sdu_cdb_close(&d);
    free(big);
  }

  /* many keys */
  in.len = 0;
  for (i = 0; i < 20000; ++i) {
    char line[64];
    snprintf(line, sizeof line, "key%u value%u\n", i, i * 7);
    stralloc_cats(&in, line);
  }
  T_EQI(build("many.cdb", 1, in.s, in.len), 0, "20000 keys build");
  T_EQI(sdu_cdb_open(&d, file("many.cdb")), 0, "open many");
  bad = 0;
  for (i = 0; i < 20000; ++i) {
    char k[32], v[32];
    snprintf(k, sizeof k, "key%u", i);
    snprintf(v, sizeof v, "value%u", i * 7);
    if (GETS(&d, k, &val) != 1 || val.len != strlen(v) || memcmp(val.s, v, val.len)) ++bad;
    snprintf(k, sizeof k, "key%u", i + 20000);
    if (GETS(&d, k, &val) != 0) ++bad;
  }
  T_EQI(bad, 0, "every key found with its data, every other key missed");
  sdu_cdb_close(&d);

  /* truncated copies of a good table: refused at open, never a crash */
  {
    size_t len, cuts[6];
    char *good = readfile(file("many.cdb"), &len);
    unsigned int k;
    cuts[0] = 0; cuts[1] = 1; cuts[2] = 2047; cuts[3] = 2048; cuts[4] = len / 2; cuts[5] = len - 1;
    bad = 0;
    for (k = 0; k < 6; ++k) {
      t_writefile(file("cut.cdb"), good, cuts[k]);
      errno = 0;
      if (sdu_cdb_open(&d, file("cut.cdb")) != -1 || errno != EPROTO) { ++bad; sdu_cdb_close(&d); }
    }
    T_EQI(bad, 0, "truncated files (0, 1, 2047, 2048, half, all but 1 byte) refused with EPROTO");
    free(good);
  }

  /* a sound header with a slot pointing outside the file: -1 on lookup */
  {
    char buf[2048 + 16];
    uint32 h = cdb_hash((const unsigned char *) "k", 1);
    uint32 b = (h & 255) * 8;
    memset(buf, 0, sizeof buf);
    uint32_pack(buf + b, 2048);
    uint32_pack(buf + b + 4, 2);
    uint32_pack(buf + 2048, h);
    uint32_pack(buf + 2052, 0x7ffffff0);
    /* the lookup starts at either slot: both point outside */
    uint32_pack(buf + 2056, h);
    uint32_pack(buf + 2060, 0x7ffffff0);
    {
      t_writefile(file("slot.cdb"), buf, sizeof buf);
      T_EQI(sdu_cdb_open(&d, file("slot.cdb")), 0, "header sound: opens");
      errno = 0;
      T_EQI(GETS(&d, "k", &val), -1, "record outside the file: temporary failure");
      T_EQI(errno, EPROTO, "record outside the file: EPROTO");
      T_EQI(sdu_cdb_exists(&d, "k", 1), -1, "exists: temporary failure too");
      r = 0;
      for (i = 0; i < 1000; ++i) {
        char k[16];
        snprintf(k, sizeof k, "x%u", i);
        if (((cdb_hash((const unsigned char *) k, strlen(k)) & 255) * 8) != b && GETS(&d, k, &val) != 0) ++r;
      }
      T_EQI(r, 0, "keys of empty buckets miss");
      sdu_cdb_close(&d);
    }
  }

  /* garbage: random bytes, then random but in-bounds headers */
  {
    size_t len = 65536, k;
    char *g = malloc(len);
    unsigned long seed = 12345;
    int odd = 0;
    if (!g) return 111;
    for (k = 0; k < len; ++k) { seed = seed * 1103515245 + 12345; g[k] = (char) (seed >> 16); }
    t_writefile(file("garbage.cdb"), g, len);
    errno = 0;
    T_OK(sdu_cdb_open(&d, file("garbage.cdb")) == -1 && errno == EPROTO, "random bytes refused at open");
    for (k = 0; k < 256; ++k) {
      uint32 slots, pos;
      seed = seed * 1103515245 + 12345;
      slots = (uint32) (seed >> 16) % 300 + 1;
      seed = seed * 1103515245 + 12345;
      pos = 2048 + (uint32) (seed >> 8) % (uint32) (len - 2048 - slots * 8);
      uint32_pack(g + 8 * k, pos);
      uint32_pack(g + 8 * k + 4, slots);
    }
    t_writefile(file("garbage.cdb"), g, len);
    T_EQI(sdu_cdb_open(&d, file("garbage.cdb")), 0, "garbage with an in-bounds header opens");
    for (i = 0; i < 20000; ++i) {
      char key[16];
      snprintf(key, sizeof key, "g%u", i);
      r = GETS(&d, key, &val);
      if (r < -1 || r > 1 || (r == 1 && val.len > SDU_CDB_DATA_MAX)) ++odd;
    }
    T_EQI(odd, 0, "20000 lookups in garbage: -1, 0 or 1 with bounded data, no crash");
    sdu_cdb_close(&d);
    free(g);
  }

  /* replacement by rename while a reader has the old table open */
  in.len = 0;
  stralloc_cats(&in, "k old\n");
  for (i = 0; i < 3000; ++i) { char l[40]; snprintf(l, sizeof l, "a%u old%u\n", i, i); stralloc_cats(&in, l); }
  T_EQI(build("live.cdb", 1, in.s, in.len), 0, "old table built");
  T_EQI(sdu_cdb_open(&d, file("live.cdb")), 0, "reader opens old table");
  T_EQI(GETS(&d, "k", &val), 1, "old table: hit");
  in.len = 0;
  stralloc_cats(&in, "k new\n");
  for (i = 0; i < 5000; ++i) { char l[40]; snprintf(l, sizeof l, "b%u new%u\n", i, i); stralloc_cats(&in, l); }
  T_EQI(build("live.cdb", 1, in.s, in.len), 0, "table rebuilt by cdb -c (temp file and rename)");
  T_EQI(GETS(&d, "k", &val), 1, "old reader: still a hit");
  T_EQB(val.s, val.len, "old", "old reader: old data");
  bad = 0;
  for (i = 0; i < 3000; ++i) {
    char k[16], v[16];
    snprintf(k, sizeof k, "a%u", i);
    snprintf(v, sizeof v, "old%u", i);
    if (GETS(&d, k, &val) != 1 || val.len != strlen(v) || memcmp(val.s, v, val.len)) ++bad;
  }
  T_EQI(GETS(&d, "b1", &val), 0, "old reader: new keys not seen");
  T_EQI(bad, 0, "old reader: the whole old table, consistent");
  T_EQI(sdu_cdb_open(&d2, file("live.cdb")), 0, "new reader opens");
  T_EQI(GETS(&d2, "k", &val), 1, "new reader: hit");
  T_EQB(val.s, val.len, "new", "new reader: new data");
  T_EQI(GETS(&d2, "a1", &val), 0, "new reader: old keys gone");
  sdu_cdb_close(&d2);
  sdu_cdb_close(&d);

  stralloc_free(&val);
  stralloc_free(&in);
  {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
  }
  T_DONE();
}
