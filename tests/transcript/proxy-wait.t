The proxy engine's SDU_WAIT (common/sdu_proxy.c) through tests/sdu-testproxy:
-w wait makes the hook answer SDU_WAIT to every RCPT that holds "wait". The
proxy reads no command after it until every command before it has its reply,
then asks the hook again (it logs the command a second time) and, with
nothing in flight, passes it on. Replies keep their order. (When the
greeting comes is up to the scheduler: it is left out.)

  $ printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<1@example.net>\r\nRCPT TO:<wait@example.net>\r\nRCPT TO:<2@example.net>\r\nQUIT\r\n' |
  > sdu-testproxy -w wait smtpsink 2>log | tr -d '\r'; grep -v '^smtpsink\|greeting' log
  220 smtpsink ESMTP
  250 smtpsink
  250 ok
  250 ok
  250 ok
  250 ok
  221 smtpsink
  sdu-testproxy: cmd=HELO arg=x
  sdu-testproxy: cmd=MAIL arg=FROM:<a@example.org>
  sdu-testproxy: cmd=RCPT arg=TO:<1@example.net>
  sdu-testproxy: cmd=RCPT arg=TO:<wait@example.net>
  sdu-testproxy: reply=HELO code=250
  sdu-testproxy: reply=MAIL code=250
  sdu-testproxy: reply=RCPT code=250
  sdu-testproxy: cmd=RCPT arg=TO:<wait@example.net>
  sdu-testproxy: cmd=RCPT arg=TO:<2@example.net>
  sdu-testproxy: cmd=QUIT arg=-
  sdu-testproxy: reply=RCPT code=250
  sdu-testproxy: reply=RCPT code=250
  sdu-testproxy: reply=QUIT code=221
  sdu-testproxy: action=end

A command that waits first, with nothing in flight: passed on at once.

  $ (sleep 0.5; printf 'HELO x\r\n'; sleep 0.3; printf 'RCPT TO:<wait@example.net>\r\nQUIT\r\n') | sdu-testproxy -w wait smtpsink 2>log | tr -d '\r'; grep -v '^smtpsink' log
  220 smtpsink ESMTP
  250 smtpsink
  503 MAIL first
  221 smtpsink
  sdu-testproxy: reply=greeting code=220
  sdu-testproxy: cmd=HELO arg=x
  sdu-testproxy: reply=HELO code=250
  sdu-testproxy: cmd=RCPT arg=TO:<wait@example.net>
  sdu-testproxy: cmd=QUIT arg=-
  sdu-testproxy: reply=RCPT code=503
  sdu-testproxy: reply=QUIT code=221
  sdu-testproxy: action=end
