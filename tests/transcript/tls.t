STARTTLS in the proxy (common/sdu_proxy.c over common/sdu_tls.c), through
tests/sdu-testproxy with tests/smtpsink behind it: what needs no handshake.
The handshake itself: tests/unit/t_tls and tests/e2e/tls.t.sh. A throw-away
certificate, made here:

  $ openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -out c.pem -days 2 -subj /CN=t.invalid 2>/dev/null && echo made
  made

Without SDU_TLS_CERT nothing changes: smtpsink's STARTTLS is taken out, ours is
not offered, STARTTLS gets 454.

  $ printf 'EHLO x\r\nSTARTTLS\r\nQUIT\r\n' | sdu-testproxy smtpsink 2>/dev/null | cat -v
  220 smtpsink ESMTP^M
  250-smtpsink^M
  250-PIPELINING^M
  250-8BITMIME^M
  250-SIZE^M
  250 HELP^M
  454 4.7.0 TLS not available^M
  221 smtpsink^M

With a certificate: ours offered once, last. RFC 3207's replies: STARTTLS
before EHLO, with a parameter, inside a transaction, after HELO.

  $ printf 'STARTTLS\r\nEHLO x\r\nSTARTTLS now\r\nMAIL FROM:<a@b>\r\nSTARTTLS\r\nRSET\r\nHELO x\r\nSTARTTLS\r\nQUIT\r\n' |
  > SDU_TLS_CERT=c.pem SDU_TLS_KEY=k.pem sdu-testproxy smtpsink 2>/dev/null | cat -v
  220 smtpsink ESMTP^M
  503 5.5.1 send EHLO first^M
  250-smtpsink^M
  250-PIPELINING^M
  250-8BITMIME^M
  250-SIZE^M
  250-HELP^M
  250 STARTTLS^M
  501 5.5.4 Syntax error (no parameters allowed)^M
  250 ok^M
  503 5.5.1 not inside a mail transaction^M
  250 ok^M
  250 smtpsink^M
  503 5.5.1 send EHLO first^M
  221 smtpsink^M

STARTTLS taken: 220, then nothing in plaintext: the MAIL pipelined behind it
never reaches smtpsink (CVE-2011-0411), and a client that never starts the
handshake ends the session.

  $ printf 'EHLO x\r\nSTARTTLS\r\nMAIL FROM:<evil@x>\r\n' | SDU_TLS_CERT=c.pem SDU_TLS_KEY=k.pem sdu-testproxy smtpsink 2>/dev/null | tail -n 2 | cat -v
  250 STARTTLS^M
  220 2.0.0 Ready to start TLS^M
  $ printf 'EHLO x\r\nSTARTTLS\r\nMAIL FROM:<evil@x>\r\n' | SDU_TLS_CERT=c.pem SDU_TLS_KEY=k.pem sdu-testproxy smtpsink 2>&1 >/dev/null | grep warning
  sdu-testproxy: warning: dropped 20 bytes sent after STARTTLS before the handshake
  sdu-testproxy: warning: TLS handshake failed: the client closed the connection

A key that cannot be read: no STARTTLS, a warning naming the file, the mail
goes on.

  $ printf 'EHLO x\r\nSTARTTLS\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' |
  > SDU_TLS_CERT=c.pem SDU_TLS_KEY=nokey.pem sdu-testproxy smtpsink > out 2> err; grep -c 'STARTTLS' out; grep -c '^454 ' out; tail -n 5 out | cut -c1-10 | cat -v
  0
  1
  250 ok^M
  250 ok^M
  354 go ahe
  250 ok que
  221 smtpsi
  $ grep warning err
  sdu-testproxy: warning: STARTTLS not offered: unable to read key file nokey.pem as user root (uid 0): No such file or directory

SDU_TLS_AUTH: AUTH only inside TLS. Before the handshake AUTH is not offered
and gets 530.

  $ printf 'EHLO x\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nQUIT\r\n' | SDU_TLS_AUTH=1 SDU_TLS_CERT=c.pem SDU_TLS_KEY=k.pem sdu-testproxy smtpsink -x auth 2>/dev/null | cat -v
  220 smtpsink ESMTP^M
  250-smtpsink^M
  250-PIPELINING^M
  250-8BITMIME^M
  250-SIZE^M
  250-HELP^M
  250 STARTTLS^M
  530 5.7.0 Must issue a STARTTLS command first^M
  221 smtpsink^M

Files that can be read but make no server (a certificate given as the key):
offered, read when the client asks, then 454 and a warning; never offered
again in the session.

  $ printf 'EHLO x\r\nSTARTTLS\r\nEHLO x\r\nQUIT\r\n' | SDU_TLS_CERT=c.pem SDU_TLS_KEY=c.pem sdu-testproxy smtpsink 2>err | grep -c 'STARTTLS\|^454'; grep -c 'warning: STARTTLS not offered: unable to load the key c.pem' err
  2
  1
