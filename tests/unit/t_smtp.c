/* t_smtp.c: command classification, reply lines, reply formatting, the EHLO
   filter and the responder on pipes */
#include <unistd.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include "sdu_t.h"
#include "sdu_smtp.h"
#include "sdu_msg.h"

/* run the responder on a scripted dialogue; return what it wrote */
static size_t respond(const char *script, size_t slen, sdu_respond_cfg *cfg, char *out, size_t max)
{
  int in[2], o[2];
  size_t len = 0;
  ssize_t r;
  pid_t pid;
  if (pipe(in) == -1 || pipe(o) == -1) exit(111);
  pid = fork();
  if (pid == 0) {
    close(in[1]); close(o[0]);
    cfg->fdin = in[0]; cfg->fdout = o[1];
    _exit(sdu_respond(cfg));
  }
  close(in[0]); close(o[1]);
  if (write(in[1], script, slen) != (ssize_t) slen) exit(111);
  while (len < max && (r = read(o[0], out + len, max - len)) > 0) len += (size_t) r;
  close(in[1]); close(o[0]);
  waitpid(pid, 0, 0);
  return len;
}

int main(void)
{
  size_t arg;
  int code, more;
  stralloc sa = {0};
  char out[8192];
  size_t len;
  sdu_respond_cfg cfg;

  sdu_iam("t_smtp");
  T_EQI(sdu_smtp_verb("MAIL FROM:<a@b>", 15, &arg), SDU_V_MAIL, "MAIL");
  T_EQI(arg, 5, "argument after the blank");
  T_EQI(sdu_smtp_verb("rcpt to:<a@b>", 13, &arg), SDU_V_RCPT, "verbs are case-insensitive");
  T_EQI(sdu_smtp_verb("DATA", 4, &arg), SDU_V_DATA, "DATA without argument");
  T_EQI(arg, 4, "empty argument at the end");
  T_EQI(sdu_smtp_verb("DATAX", 5, &arg), SDU_V_OTHER, "a longer word is not DATA");
  T_EQI(sdu_smtp_verb("", 0, &arg), SDU_V_OTHER, "empty line");
  T_EQI(sdu_smtp_verb("starttls", 8, &arg), SDU_V_STARTTLS, "STARTTLS");
  T_EQI(sdu_smtp_verb("EHLO  \thost", 11, &arg), SDU_V_EHLO, "EHLO");
  T_EQI(arg, 7, "blanks and tabs skipped");

  T_OK(sdu_smtp_replyline("250 ok", 6, &code, &more) && code == 250 && !more, "last reply line");
  T_OK(sdu_smtp_replyline("250-PIPELINING", 14, &code, &more) && more, "continuation line");
  T_OK(sdu_smtp_replyline("354", 3, &code, &more) && code == 354 && !more, "code alone");
  T_OK(!sdu_smtp_replyline("25", 2, &code, &more), "too short");
  T_OK(!sdu_smtp_replyline("250x", 4, &code, &more), "no separator");
  T_OK(!sdu_smtp_replyline("650 x", 5, &code, &more), "no such class");
  T_OK(!sdu_smtp_replyline("2a0 x", 5, &code, &more), "not digits");

  {
    /* HTTP as the first line of a session, and what must not be taken for it */
    static const char *const http[] = {
      "GET / HTTP/1.1", "GET /", "POST /cgi-bin/x HTTP/1.0", "HEAD / HTTP/1.1", "PUT /x HTTP/1.1",
      "DELETE /x HTTP/1.1", "OPTIONS * HTTP/1.1", "PATCH /x HTTP/1.1", "CONNECT mx.example:25 HTTP/1.1",
      "CONNECT 192.0.2.1:25", "TRACE / HTTP/1.1", "get /", "PROPFIND /dav HTTP/1.1", "BREW /pot http/1.0",
      "Host: www.example", "User-Agent: curl/8.0", "Accept:", "X-Forwarded-For:1.2.3.4", 0
    };
    static const char *const smtp[] = {
      "EHLO client.example", "HELO x", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.net>",
      "mail from:<a@b>", "MAIL:", "RCPT: x", "DATA", "QUIT", "NOOP", "", "GET", "GETX /", "GET\t/",
      "POSTMASTER x", "Host : x", ":x", "Host", "EHLO a b HTTP/1", "X / HTTP/1.1x", "X  / HTTP/1.1",
      "X / HTTP/a.b", "(x): y", 0
    };
    int k;
    for (k = 0; http[k]; ++k) {
      char name[120];
      snprintf(name, sizeof name, "nonsmtp: [%s] is HTTP", http[k]);
      T_OK(sdu_smtp_nonsmtp(http[k], strlen(http[k])), name);
    }
    for (k = 0; smtp[k]; ++k) {
      char name[120];
      snprintf(name, sizeof name, "nonsmtp: [%s] is not", smtp[k]);
      T_OK(!sdu_smtp_nonsmtp(smtp[k], strlen(smtp[k])), name);
    }
  }

  T_OK(sdu_smtp_cleanline("MAIL FROM:<a@b>\tX", 17), "tab allowed");
  T_OK(!sdu_smtp_cleanline("MAIL\0FROM", 9), "NUL refused");
  T_OK(!sdu_smtp_cleanline("MAIL\rFROM", 9), "bare CR refused");

  T_EQI(sdu_smtp_replycode("553 sorry", 451), 553, "code of a text");
  T_EQI(sdu_smtp_replycode("sorry", 451), 451, "default code");
  sdu_smtp_fmtreply(&sa, 451, "553 5.7.1 listed\r\nX-Evil: yes");
  T_EQB(sa.s, sa.len, "553 5.7.1 listed__X-Evil: yes\r\n", "a text keeps its code, control bytes go");
  sa.len = 0;
  sdu_smtp_fmtreply(&sa, 451, "try later");
  T_EQB(sa.s, sa.len, "451 try later\r\n", "default code added");
  sa.len = 0;
  sdu_smtp_fmtreply(&sa, 999, "x");
  T_EQB(sa.s, sa.len, "451 x\r\n", "a code out of range becomes 451");
  {
    char big[1000];
    memset(big, 'a', sizeof big);
    big[sizeof big - 1] = 0;
    sa.len = 0;
    sdu_smtp_fmtreply(&sa, 550, big);
    T_EQI(sa.len, 4 + SDU_SMTP_TEXT_MAX + 2, "long texts are cut");
  }

  {
    const char *r = "250-mx.example Hello\r\n250-SIZE 100\r\n250-STARTTLS\r\n250-PIPELINING\r\n250 CHUNKING\r\n";
    sa.len = 0;
    sdu_smtp_ehlofilter(&sa, r, strlen(r));
    T_EQB(sa.s, sa.len, "250-mx.example Hello\r\n250-SIZE 100\r\n250 PIPELINING\r\n",
      "STARTTLS and CHUNKING removed, last line marked");
    r = "250-mx\n250 starttls\n";
    sa.len = 0;
    sdu_smtp_ehlofilter(&sa, r, strlen(r));
    T_EQB(sa.s, sa.len, "250 mx\r\n", "only the greeting line left, bare LF fixed");
    r = "250 STARTTLS is the name\r\n";
    sa.len = 0;
    sdu_smtp_ehlofilter(&sa, r, strlen(r));
    T_EQB(sa.s, sa.len, "250 STARTTLS is the name\r\n", "the first line is never an extension");
    r = "250-mx.example Hello\r\n250-STARTTLS\r\n250-AUTH LOGIN PLAIN\r\n250-AUTH=LOGIN\r\n250 PIPELINING\r\n";
    sa.len = 0;
    sdu_smtp_ehloedit(&sa, r, strlen(r), 1, 0);
    T_EQB(sa.s, sa.len, "250-mx.example Hello\r\n250-AUTH LOGIN PLAIN\r\n250-AUTH=LOGIN\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
      "our STARTTLS once, last; downstream's gone");
    sa.len = 0;
    sdu_smtp_ehloedit(&sa, r, strlen(r), 1, 1);
    T_EQB(sa.s, sa.len, "250-mx.example Hello\r\n250-PIPELINING\r\n250 STARTTLS\r\n", "AUTH left out until TLS");
    r = "250 mx\r\n";
    sa.len = 0;
    sdu_smtp_ehloedit(&sa, r, strlen(r), 1, 0);
    T_EQB(sa.s, sa.len, "250-mx\r\n250 STARTTLS\r\n", "a one-line reply gets STARTTLS as its last line");
    r = "250-mx\r\n250-AUTHX\r\n250 AUTH PLAIN\r\n";
    sa.len = 0;
    sdu_smtp_ehloedit(&sa, r, strlen(r), 0, 1);
    T_EQB(sa.s, sa.len, "250-mx\r\n250 AUTHX\r\n", "only AUTH itself is left out");
  }

  sdu_respond_defaults(&cfg);
  cfg.host = "mx.test";
  cfg.refusal = "553 5.7.1 you are listed";
  {
    const char *s = "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nNOOP\r\nRSET\r\nVRFY x\r\nQUIT\r\nNOOP\r\n";
    len = respond(s, strlen(s), &cfg, out, sizeof out);
    T_EQB(out, len, "220 mx.test ESMTP\r\n250 mx.test\r\n250 2.0.0 ok\r\n553 5.7.1 you are listed\r\n"
      "553 5.7.1 you are listed\r\n250 2.0.0 ok\r\n250 2.0.0 ok\r\n553 5.7.1 you are listed\r\n221 mx.test\r\n",
      "responder: a whole dialogue, nothing after QUIT");
  }
  cfg.refusal = "451 4.7.1 come back later";
  cfg.maxcommands = 3;
  {
    const char *s = "HELO x\nRCPT TO:<c@d>\nRCPT TO:<c@d>\nRCPT TO:<c@d>\nRCPT TO:<c@d>\n";
    len = respond(s, strlen(s), &cfg, out, sizeof out);
    T_EQB(out, len, "220 mx.test ESMTP\r\n250 mx.test\r\n451 4.7.1 come back later\r\n451 4.7.1 come back later\r\n"
      "421 mx.test too many commands, closing connection\r\n", "responder: bare LF lines, bounded commands");
  }
  cfg.maxcommands = 50;
  {
    const char *s = "GET / HTTP/1.1\r\nHost: mx.test\r\n\r\n";
    len = respond(s, strlen(s), &cfg, out, sizeof out);
    T_EQB(out, len, "220 mx.test ESMTP\r\n554 5.5.1 this is an SMTP server, not an HTTP proxy\r\n",
      "responder: HTTP as the first line: 554 once, then it hangs up");
    s = "Host: mx.test\r\nGET / HTTP/1.1\r\n";
    len = respond(s, strlen(s), &cfg, out, sizeof out);
    T_EQB(out, len, "220 mx.test ESMTP\r\n554 5.5.1 this is an SMTP server, not an HTTP proxy\r\n",
      "responder: a header line as the first line too");
    s = "HELO x\r\nGET / HTTP/1.1\r\nHost: mx.test\r\nQUIT\r\n";
    len = respond(s, strlen(s), &cfg, out, sizeof out);
    T_EQB(out, len, "220 mx.test ESMTP\r\n250 mx.test\r\n451 4.7.1 come back later\r\n"
      "451 4.7.1 come back later\r\n221 mx.test\r\n",
      "responder: HTTP after the first command is any other command");
  }
  {
    static char s[5000];
    memset(s, 'x', 4000);
    memcpy(s + 4000, "\r\nNOOP\0x\r\nQUIT\r\n", 16);
    len = respond(s, 4016, &cfg, out, sizeof out);
    T_EQB(out, len, "220 mx.test ESMTP\r\n500 5.5.2 line too long\r\n500 5.5.2 bad characters in command\r\n221 mx.test\r\n",
      "responder: an overlong line and a NUL get 500, the session goes on");
  }
  cfg.atgreeting = 1;
  cfg.refusal = "421 4.7.0 too many connections";
  len = respond("", 0, &cfg, out, sizeof out);
  T_EQB(out, len, "421 4.7.0 too many connections\r\n", "responder: refusal at the greeting");
  /* after rblcheck's "220-HOST": the greeting is completed, the refusal
     answers the commands, a 421 the first one */
  cfg.greeted = "mx.example";
  len = respond("EHLO x\r\nQUIT\r\n", 14, &cfg, out, sizeof out);
  T_EQB(out, len, "220 mx.example ESMTP\r\n421 4.7.0 too many connections\r\n",
    "responder: greeted, a refusal at the greeting: 220, then 421 to the first command");
  cfg.refusal = "554 5.7.1 go away";
  len = respond("EHLO x\r\nMAIL FROM:<a@b>\r\nQUIT\r\n", 31, &cfg, out, sizeof out);
  T_EQB(out, len, "220 mx.example ESMTP\r\n554 5.7.1 go away\r\n554 5.7.1 go away\r\n221 mx.test\r\n",
    "responder: greeted, a 554 at the greeting: 220, every command gets the 554, QUIT 221");
  cfg.atgreeting = 0;
  len = respond("QUIT\r\n", 6, &cfg, out, sizeof out);
  T_EQB(out, len, "220 mx.example ESMTP\r\n221 mx.test\r\n", "responder: greeted: the 220 names the greeting's host");
  cfg.greeted = 0;
  cfg.atgreeting = 1;
  cfg.refusal = "421 4.7.0 too many connections";
  cfg.atgreeting = 0;
  cfg.timeout = 1;
  {
    int in[2], o[2];
    pid_t pid;
    ssize_t r;
    if (pipe(in) == -1 || pipe(o) == -1) return 111;
    pid = fork();
    if (pid == 0) { close(in[1]); close(o[0]); cfg.fdin = in[0]; cfg.fdout = o[1]; _exit(sdu_respond(&cfg)); }
    close(in[0]); close(o[1]);
    len = 0;
    while ((r = read(o[0], out + len, sizeof out - len)) > 0) len += (size_t) r;
    T_EQB(out, len, "220 mx.test ESMTP\r\n421 mx.test timeout, closing connection\r\n",
      "responder: a silent client is dropped at the deadline");
    waitpid(pid, 0, 0);
  }
  {
    /* pipelined commands read in one go: their replies leave in one write
       (a SOCK_SEQPACKET socket keeps each write a record of its own), so
       that none waits for the client's ACK of the one before */
    int in[2], o[2];
    char rec[3][512];
    ssize_t rl[3];
    pid_t pid;
    const char *cmds = "HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nQUIT\r\n";
    if (pipe(in) == -1 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, o) == -1) return 111;
    if (write(in[1], cmds, strlen(cmds)) != (ssize_t) strlen(cmds)) return 111;
    close(in[1]);
    pid = fork();
    if (pid == 0) { close(o[0]); cfg.fdin = in[0]; cfg.fdout = o[1]; cfg.refusal = "451 4.7.1 listed"; _exit(sdu_respond(&cfg)); }
    close(in[0]); close(o[1]);
    rl[0] = recv(o[0], rec[0], sizeof rec[0], 0);
    rl[1] = recv(o[0], rec[1], sizeof rec[1], 0);
    rl[2] = recv(o[0], rec[2], sizeof rec[2], 0);
    waitpid(pid, 0, 0);
    T_EQB(rec[0], rl[0] > 0 ? (size_t) rl[0] : 0, "220 mx.test ESMTP\r\n", "responder: the greeting in a write of its own");
    T_EQB(rec[1], rl[1] > 0 ? (size_t) rl[1] : 0,
      "250 mx.test\r\n250 2.0.0 ok\r\n451 4.7.1 listed\r\n221 mx.test\r\n",
      "responder: the replies to commands read together in one write");
    T_OK(rl[2] == 0, "responder: nothing after them");
    close(o[0]);
  }
  {
    /* on a TCP socket the responder turns Nagle's algorithm off */
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int ls = socket(AF_INET, SOCK_STREAM, 0), cs = socket(AF_INET, SOCK_STREAM, 0), ss, nd = 0;
    socklen_t ndl = sizeof nd;
    pid_t pid;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ls == -1 || cs == -1 || bind(ls, (struct sockaddr *) &a, sizeof a) == -1 || listen(ls, 1) == -1
        || getsockname(ls, (struct sockaddr *) &a, &alen) == -1 || connect(cs, (struct sockaddr *) &a, sizeof a) == -1
        || (ss = accept(ls, 0, 0)) == -1) {
      T_SKIP("responder: TCP_NODELAY on a TCP socket", "no loopback TCP");
    } else {
      getsockopt(ss, IPPROTO_TCP, TCP_NODELAY, &nd, &ndl);
      T_OK(nd == 0, "responder: a fresh TCP socket has Nagle on");
      if (write(cs, "QUIT\r\n", 6) != 6) return 111;
      pid = fork();
      if (pid == 0) { cfg.fdin = ss; cfg.fdout = ss; _exit(sdu_respond(&cfg)); }
      waitpid(pid, 0, 0);
      nd = 0;
      getsockopt(ss, IPPROTO_TCP, TCP_NODELAY, &nd, &ndl);
      T_OK(nd != 0, "responder: TCP_NODELAY set on its TCP socket");
      close(ss);
    }
    if (ls != -1) close(ls);
    if (cs != -1) close(cs);
  }
  stralloc_free(&sa);
  T_DONE();
}
