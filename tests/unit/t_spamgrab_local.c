/* t_spamgrab_local.c: the rule that only our qmail-send's double-bounces count, and qmail-queue's date */
#include "sdu_t.h"
#include "../../spamgrab/spamgrab_local.h"

static int local(const char *m, const char *sender)
{
  return sg_local(m, strlen(m), sender, 0, 0);
}

int main(void)
{
  static const char q[] = "Received: (qmail 8029 invoked for bounce); 2 Dec 2026 10:04:30 -0000\n";
  static const char hdr[] = "Date: 2 Dec 2026 10:04:30 -0000\nFrom: MAILER-DAEMON@mx.example.net\n"
    "To: doublebounce@mx.example.net\nSubject: failure notice\n\nHi. This is the qmail-send program at mx.example.net.\n";
  char m[1024];
  const char *d;
  size_t dl;
  unsigned long long t;

  snprintf(m, sizeof m, "%s%s", q, hdr);
  T_EQI(local(m, "#@[]"), SG_LOCAL_OK, "piped, SENDER #@[]: ours");
  T_EQI(sg_local(m, strlen(m), "#@[]", &d, &dl), SG_LOCAL_OK, "the date found");
  T_EQB(d, dl, "2 Dec 2026 10:04:30 -0000", "the date of qmail-queue's line");
  T_EQI(local(m, ""), SG_LOCAL_SENDER, "SENDER empty (a single bounce): not ours");
  T_EQI(local(m, "a@b.example"), SG_LOCAL_SENDER, "SENDER another address: not ours");
  T_EQI(local(m, 0), SG_LOCAL_SENDER, "no SENDER, no Return-Path line: not ours");
  snprintf(m, sizeof m, "Return-Path: <#@[]>\nDelivered-To: postmaster@mx.example.net\n%s%s", q, hdr);
  T_EQI(local(m, 0), SG_LOCAL_OK, "the Maildir file, no SENDER: ours");
  T_EQI(local(m, "#@[]"), SG_LOCAL_OK, "preline's lines and SENDER: ours");
  snprintf(m, sizeof m, "Return-Path: <>\nDelivered-To: postmaster@mx.example.net\n%s%s", q, hdr);
  T_EQI(local(m, 0), SG_LOCAL_SENDER, "the Maildir file of a single bounce: not ours");
  T_EQI(local(m, "#@[]"), SG_LOCAL_SENDER, "Return-Path and SENDER disagree: not ours");
  snprintf(m, sizeof m, "Received: (qmail 9 invoked from network); 2 Dec 2026 10:04:30 -0000\n"
    "Received: from unknown (HELO x) (192.0.2.7)\n  by mx.example.net with SMTP; 2 Dec 2026 10:04:30 -0000\n%s%s", q, hdr);
  T_EQI(local(m, "#@[]"), SG_LOCAL_QUEUE, "over SMTP with MAIL FROM:<#@[]>, a forged qmail line below: not ours");
  snprintf(m, sizeof m, "Received: (qmail 9 invoked by uid 1000); 2 Dec 2026 10:04:30 -0000\n%s", hdr);
  T_EQI(local(m, "#@[]"), SG_LOCAL_QUEUE, "sendmail -f '#@[]' by a local user: not ours");
  snprintf(m, sizeof m, "Received: (qmail 8029 invoked for bounce); 2 Dec 2026 10:04:30 -0000\n"
    "Received: from x by mx.example.net with SMTP; 2 Dec 2026 10:04:30 -0000\n%s", hdr);
  T_EQI(local(m, "#@[]"), SG_LOCAL_RECEIVED, "a second Received field in qmail-send's header: not ours");
  snprintf(m, sizeof m, "Received: (qmail 8029 invoked for bounce);\n 2 Dec 2026 10:04:30 -0000\n%s", hdr);
  T_EQI(local(m, "#@[]"), SG_LOCAL_QUEUE, "the qmail line folded (not as qmail-queue writes it): not ours");
  snprintf(m, sizeof m, "Received: (qmail invoked for bounce); 2 Dec 2026 10:04:30 -0000\n%s", hdr);
  T_EQI(local(m, "#@[]"), SG_LOCAL_QUEUE, "no pid in the qmail line: not ours");
  T_EQI(local("", "#@[]"), SG_LOCAL_QUEUE, "empty input: not ours");

  /* the original bounce inside: qmail-send's own, or a stranger's MAIL FROM:<> message */
#define IB(x) sg_local_bounce(x, strlen(x))
  snprintf(m, sizeof m, "Return-Path: <>\n%s%s", q, hdr);
  T_EQI(IB(m), SG_LOCAL_OK, "inner bounce: qmail-send's own");
  snprintf(m, sizeof m, "Return-Path: <>\r\nReceived: (qmail 8029 invoked for bounce); 2 Dec 2026 10:04:30 -0000\r\n"
    "Date: 2 Dec 2026 10:04:30 -0000\r\n\r\nHi.\r\n");
  T_EQI(IB(m), SG_LOCAL_OK, "inner bounce: CRLF line ends");
  snprintf(m, sizeof m, "Return-Path: <>\nReceived: (qmail 9 invoked from network); 2 Dec 2026 10:04:30 -0000\n"
    "Received: from unknown (HELO x) (192.0.2.7)\n  by mx.example.net with SMTP; 2 Dec 2026 10:04:30 -0000\n%s", hdr);
  T_EQI(IB(m), SG_LOCAL_BOUNCE, "inner bounce: came in over SMTP with MAIL FROM:<>");
  snprintf(m, sizeof m, "Return-Path: <>\nReceived: (qmail 9 invoked from network); 2 Dec 2026 10:04:30 -0000\n"
    "Received: from unknown (HELO x) (192.0.2.7)\n  by mx.example.net with SMTP; 2 Dec 2026 10:04:30 -0000\n%s%s", q, hdr);
  T_EQI(IB(m), SG_LOCAL_BOUNCE, "inner bounce: over SMTP, a forged qmail line below ours");
  snprintf(m, sizeof m, "Return-Path: <x@y.example>\n%s%s", q, hdr);
  T_EQI(IB(m), SG_LOCAL_BOUNCE, "inner bounce: not to <>");
  snprintf(m, sizeof m, "%s%s", q, hdr);
  T_EQI(IB(m), SG_LOCAL_BOUNCE, "inner bounce: no Return-Path line");
  snprintf(m, sizeof m, "Return-Path: <>\n%sReceived: from x by mx.example.net with SMTP; 2 Dec 2026 10:04:30 -0000\n%s", q, hdr);
  T_EQI(IB(m), SG_LOCAL_BOUNCE, "inner bounce: a second Received field");
  snprintf(m, sizeof m, "Return-Path: <>\nReceived: (qmail 8029 invoked for bounce);\n 2 Dec 2026 10:04:30 -0000\n%s", hdr);
  T_EQI(IB(m), SG_LOCAL_BOUNCE, "inner bounce: the qmail line folded");
  T_EQI(IB("Return-Path: <>"), SG_LOCAL_BOUNCE, "inner bounce: one line only");
  T_EQI(IB(""), SG_LOCAL_BOUNCE, "inner bounce: empty");
  T_OK(!strcmp(sg_local_why(SG_LOCAL_BOUNCE), "bounce"), "inner bounce: check=bounce in the log");

  T_OK(sg_qmaildate("2 Dec 2026 10:04:30 -0000", 25, &t) && t == 1796205870ULL, "qmail date: 2 Dec 2026 10:04:30 UTC");
  T_OK(sg_qmaildate("29 Feb 2028 00:00:00 -0000", 26, &t) && t == 1835395200ULL, "qmail date: a leap day");
  T_OK(!sg_qmaildate("2 Dec 2026 10:04:30 +0100", 25, &t), "qmail date: not UTC, not qmail-queue's");
  T_OK(!sg_qmaildate("Wed, 2 Dec 2026 10:04:30 -0000", 30, &t), "qmail date: RFC 822 weekday form refused");
  T_OK(!sg_qmaildate("2 Foo 2026 10:04:30 -0000", 25, &t), "qmail date: bad month");
  T_DONE();
}
