/* t_msg.c: the decision log and printable copies */
#include <unistd.h>
#include <stdlib.h>
#include "sdu_t.h"
#include "sdu_msg.h"

static void readall(int fd, char *buf, size_t max, size_t *len)
{
  ssize_t r;
  *len = 0;
  while (*len < max && (r = read(fd, buf + *len, max - *len)) > 0) *len += (size_t) r;
}

int main(void)
{
  stralloc sa = {0};
  sdu_log l;
  int p[2];
  char buf[512];
  size_t len;

  sdu_iam("rblcheck");
  T_OK(sdu_printable(&sa, "a b\r\n\x01z", 7, 100, 0), "printable succeeds");
  T_EQB(sa.s, sa.len, "a_b___z", "control bytes and spaces become _");
  sa.len = 0;
  sdu_printable(&sa, "a b c", 5, 3, 1);
  T_EQB(sa.s, sa.len, "a b", "cut to the bound, spaces kept on request");
  sa.len = 0;
  sdu_printable(&sa, "\xff\x80ok", 4, 100, 1);
  T_EQB(sa.s, sa.len, "__ok", "8-bit bytes become _");

  if (pipe(p) == -1) return 111;
  sdu_log_start(&l);
  sdu_log_kv(&l, "ip", "192.0.2.7");
  sdu_log_kv(&l, "lists", "orbs,rss");
  sdu_log_kv(&l, "helo", "evil host\n");
  sdu_log_kv(&l, "empty", "");
  sdu_log_kvu(&l, "ms", 42);
  sdu_log_kv(&l, "action", "reject");
  T_OK(sdu_log_emit(&l, p[1]) == 0, "log line written");
  close(p[1]);
  readall(p[0], buf, sizeof buf, &len);
  T_EQB(buf, len, "rblcheck: ip=192.0.2.7 lists=orbs,rss helo=evil_host_ empty=- ms=42 action=reject\n",
    "one key=value line, no spaces inside values");
  {
    char big[1000];
    memset(big, 'x', sizeof big);
    if (pipe(p) == -1) return 111;
    sdu_log_start(&l);
    sdu_log_kvb(&l, "v", big, sizeof big);
    sdu_log_emit(&l, p[1]);
    close(p[1]);
    readall(p[0], buf, sizeof buf, &len);
    T_EQI(len, 9 + 3 + SDU_LOG_VALUE_MAX + 1, "long values are cut");
  }
  {
    /* the session's fields end every later line */
    int k;
    for (k = 0; k < 2; ++k) {
      if (pipe(p) == -1) return 111;
      sdu_log_session(k ? "" : " tls=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256");
      sdu_log_start(&l);
      sdu_log_kv(&l, "action", "accept");
      sdu_log_emit(&l, p[1]);
      close(p[1]);
      readall(p[0], buf, sizeof buf, &len);
      if (!k) T_EQB(buf, len, "rblcheck: action=accept tls=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256\n", "session fields at the end");
      else T_EQB(buf, len, "rblcheck: action=accept\n", "session fields gone");
    }
  }
  {
    char num[SDU_FMT_ULONG + 1];
    num[sdu_fmt_ulong(num, 0)] = 0;
    T_EQS(num, "0", "fmt 0");
    num[sdu_fmt_ulong(num, 4294967295UL)] = 0;
    T_EQS(num, "4294967295", "fmt 2^32-1");
    num[sdu_fmt_ulong(num, (unsigned long) -1)] = 0;
    T_OK(strlen(num) <= SDU_FMT_ULONG && num[0] != '0', "fmt the largest");
    T_EQI(sdu_fmt_ulong(0, 12345), 5, "fmt counts without writing");
  }
  stralloc_free(&sa);
  T_DONE();
}
