rcptcheck on scripted SMTP dialogues, smtpsink behind it (cat -v shows CRs).

  $ printf 'steve@example.org\nforged@example.org -553 never sent mail\n' | rcptcheck-build -f rcpt.cdb

Malformed paths: a source route is dropped, no brackets, a 300-byte local
part, a NUL byte; replies keep their order.

  $ long=$(printf '%0300d' 0)
  > printf 'HELO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<@a,@b:steve@example.org>\r\nRCPT TO:steve@example.org\r\nRCPT TO:<%s@example.org>\r\nRCPT TO:<st\000eve@example.org>\r\nRCPT TO:<forged@example.org>\r\nQUIT\r\n' "$long" |
  > TCPREMOTEIP=192.0.2.7 RCPTCHECK_MAXREFUSED=0 rcptcheck -f rcpt.cdb smtpsink 2> log | cat -v
  > cut -c 1-120 log
  220 smtpsink ESMTP^M
  250 smtpsink^M
  250 ok^M
  250 ok^M
  501 5.5.4 path must be enclosed in <>^M
  501 5.5.4 path too long^M
  500 5.5.2 bad characters in command^M
  553 never sent mail^M
  221 smtpsink^M
  rcptcheck: ip=192.0.2.7 from=a@b.example rcpt=steve@example.org action=accept reason=exact
  rcptcheck: ip=192.0.2.7 from=a@b.example rcpt=TO:steve@example.org action=reject reason=syntax refused=1
  rcptcheck: ip=192.0.2.7 from=a@b.example rcpt=TO:<0000000000000000000000000000000000000000000000000000000000000000000000
  rcptcheck: ip=192.0.2.7 from=a@b.example rcpt=forged@example.org action=reject reason=table refused=3
  smtpsink: messages=0 bytes=0

Without RELAYCLIENT a bad sender is refused; with it nothing is checked.

  $ printf 'HELO x\r\nMAIL FROM:<nodomain>\r\nQUIT\r\n' | rcptcheck -f rcpt.cdb smtpsink 2>/dev/null | cat -v
  220 smtpsink ESMTP^M
  250 smtpsink^M
  553 5.1.7 address must contain a domain^M
  221 smtpsink^M
  $ printf 'HELO x\r\nMAIL FROM:<nodomain>\r\nQUIT\r\n' | RELAYCLIENT= rcptcheck -f rcpt.cdb smtpsink 2>/dev/null | cat -v
  220 smtpsink ESMTP^M
  250 smtpsink^M
  250 ok^M
  221 smtpsink^M

Usage.

  $ rcptcheck -f rcpt.cdb
  rcptcheck: usage: rcptcheck [ -f rcpt.cdb ] [ -D domains ] [ -l rules ] [ -s senders ] [ -n maxrefused ] [ -e ] [ -d statedir ] [ -A ] [ -F ] prog [ arg ... ]
  [100]
