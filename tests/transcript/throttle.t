throttle (throttle/throttle.c) with tests/smtpsink at the end of the chain.
Input is written in one go; replies come back in order. SDU_TEST_NOW moves
the clock.

The recipient throttle: THROTTLE_RCPT=2, a third recipient gets 451, and
RSET with a new transaction does not reset the count. throttle stays in the
middle and logs one line at the end.

  $ mkdir sink st
  > printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<1@example.net>\r\nRCPT TO:<2@example.net>\r\nRCPT TO:<3@example.net>\r\nRSET\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<4@example.net>\r\nQUIT\r\n' |
  > TCPREMOTEIP=192.0.2.7 RBLCHECK_LISTS='dul orbs' THROTTLE_RCPT=2 throttle -d st smtpsink -d sink 2>log | cat -v; cat log
  220 smtpsink ESMTP^M
  250 smtpsink^M
  250 ok^M
  250 ok^M
  250 ok^M
  451 4.7.1 too many recipients in this connection: send the others later^M
  250 ok^M
  250 ok^M
  451 4.7.1 too many recipients in this connection: send the others later^M
  221 smtpsink^M
  throttle: ip=192.0.2.7 lists=dul,orbs action=proxy rcpts=2 throttled=2 msgs=0

Nothing to watch: throttle runs prog and is gone (smtpsink's pid is ours).

  $ printf 'QUIT\r\n' | TCPREMOTEIP=192.0.2.7 throttle -d st sh -c 'echo "pid $$" >&2; exec smtpsink' 2>&1 >/dev/null | sed 's/pid [0-9]*/pid N/'
  throttle: ip=192.0.2.7 lists=- action=pass
  pid N
  smtpsink: messages=0 bytes=0

RELAYCLIENT: at once, even with every limit set.

  $ printf 'QUIT\r\n' | RELAYCLIENT= TCPREMOTEIP=192.0.2.7 THROTTLE_RCPT=0 THROTTLE_CONN=0/60 throttle -d st smtpsink 2>&1 | tr -d '\r'
  throttle: ip=192.0.2.7 lists=- action=pass reason=relayclient
  220 smtpsink ESMTP
  221 smtpsink
  smtpsink: messages=0 bytes=0

The connection rate, 2 per 60 seconds: the third connection gets 421 at the
greeting and smtpsink never starts; another client has its own count; after
the window the first client passes again.

  $ for t in 1000 1001 1002; do printf 'QUIT\r\n' | SDU_TEST_NOW=$t TCPREMOTEIP=192.0.2.8 THROTTLE_CONN=2/60 throttle -d st smtpsink 2>&1 | tr -d '\r'; done
  throttle: ip=192.0.2.8 lists=- action=pass conn=1
  220 smtpsink ESMTP
  221 smtpsink
  smtpsink: messages=0 bytes=0
  throttle: ip=192.0.2.8 lists=- action=pass conn=2
  220 smtpsink ESMTP
  221 smtpsink
  smtpsink: messages=0 bytes=0
  throttle: ip=192.0.2.8 lists=- action=tempfail reason=rate conn=3
  421 4.7.0 too many connections from your address: try again later
  $ printf 'QUIT\r\n' | SDU_TEST_NOW=1003 TCPREMOTEIP=192.0.2.9 THROTTLE_CONN=2/60 throttle -d st smtpsink 2>&1 | head -n 1
  throttle: ip=192.0.2.9 lists=- action=pass conn=1
  $ printf 'QUIT\r\n' | SDU_TEST_NOW=1060 TCPREMOTEIP=192.0.2.8 THROTTLE_CONN=2/60 throttle -d st smtpsink 2>&1 | head -n 1
  throttle: ip=192.0.2.8 lists=- action=pass conn=1

IPv6 clients are counted per /64: two addresses of one /64 share a count,
another /64 has its own.

  $ for ip in 2001:db8:1:2::1 2001:db8:1:2::ff 2001:db8:1:3::1; do printf 'QUIT\r\n' | SDU_TEST_NOW=2000 TCPREMOTEIP=$ip THROTTLE_CONN=1/60 throttle -d st smtpsink 2>&1 | head -n 1; done
  throttle: ip=2001:db8:1:2::1 lists=- action=pass conn=1
  throttle: ip=2001:db8:1:2::ff lists=- action=tempfail reason=rate conn=2
  throttle: ip=2001:db8:1:3::1 lists=- action=pass conn=1

SDU_HARVEST: nothing is refused, what would have been is logged.

  $ printf 'QUIT\r\n' | SDU_HARVEST=1 SDU_TEST_NOW=2000 TCPREMOTEIP=2001:db8:1:2::7 THROTTLE_CONN=1/60 throttle -d st smtpsink 2>&1 | tr -d '\r'
  throttle: ip=2001:db8:1:2::7 lists=- action=harvest conn=3 would=tempfail reason=rate
  220 smtpsink ESMTP
  221 smtpsink
  smtpsink: messages=0 bytes=0

Concurrency: a slot per pid; the slot of a process that is gone is free
again, so one connection after another always passes.

  $ for i in 1 2 3; do printf 'QUIT\r\n' | TCPREMOTEIP=192.0.2.10 THROTTLE_CONC=1 throttle -d st smtpsink 2>&1 | head -n 1; done
  throttle: ip=192.0.2.10 lists=- action=pass conc=1
  throttle: ip=192.0.2.10 lists=- action=pass conc=1
  throttle: ip=192.0.2.10 lists=- action=pass conc=1

A second connection while the first is open gets 421.

  $ mkfifo in
  > (TCPREMOTEIP=192.0.2.10 THROTTLE_CONC=1 throttle -d st smtpsink < in > out1 2> log1 &)
  > exec 3> in
  > i=0; while [ $i -lt 50 ] && ! grep -q 220 out1 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
  > printf 'QUIT\r\n' | TCPREMOTEIP=192.0.2.10 THROTTLE_CONC=1 throttle -d st smtpsink 2>&1 | tr -d '\r'
  > exec 3>&-
  throttle: ip=192.0.2.10 lists=- action=tempfail reason=concurrency conc=2
  421 4.7.0 too many connections at once from your address: try again later

A state directory that is missing, or a corrupt database: a warning, and
the client is passed on.

  $ printf 'QUIT\r\n' | TCPREMOTEIP=192.0.2.7 THROTTLE_CONN=1/60 throttle -d nosuchdir smtpsink 2>&1 | tr -d '\r'
  throttle: warning: unable to open nosuchdir: No such file or directory; passing on (to recover: create the state directory, writable by the user the service runs as)
  throttle: ip=192.0.2.7 lists=- action=pass state=failed
  220 smtpsink ESMTP
  221 smtpsink
  smtpsink: messages=0 bytes=0
  $ mkdir bad && head -c 20000 /dev/zero | tr '\0' 'x' > bad/data.mdb
  > printf 'QUIT\r\n' | TCPREMOTEIP=192.0.2.7 THROTTLE_CONN=1/60 throttle -d bad smtpsink 2>&1 | tr -d '\r' | sed 's/: MDB_[A-Z_]*:.*/: (reason)/'
  throttle: warning: database corrupt: bad/data.mdb: (reason)
  throttle: ip=192.0.2.7 lists=- action=pass state=failed
  220 smtpsink ESMTP
  221 smtpsink
  smtpsink: messages=0 bytes=0

Usage and bad settings.

  $ throttle -d st
  throttle: usage: throttle [ -d statedir ] [ -b hold ] [ -w ipfile ] [ -B count/window ] [ -h hold ] [ -W rcptfile ] [ -n ] [ -l ] [ -m delay ] [ -M lifetime ] [ -a count/time ] [ -S senderfile ] prog [ arg ... ]
  [100]
  $ throttle -b 3x true
  throttle: usage: throttle [ -d statedir ] [ -b hold ] [ -w ipfile ] [ -B count/window ] [ -h hold ] [ -W rcptfile ] [ -n ] [ -l ] [ -m delay ] [ -M lifetime ] [ -a count/time ] [ -S senderfile ] prog [ arg ... ]
  [100]
  $ echo 192.0.2.300 > white; TCPREMOTEIP=192.0.2.7 throttle -d st -b 3h -w white true
  throttle: fatal: white line 1: not an address or net: 192.0.2.300
  [100]
  $ TCPREMOTEIP=192.0.2.7 THROTTLE_CONN=lots throttle -d st true
  throttle: warning: THROTTLE_CONN is not count/seconds: ignored
  throttle: ip=192.0.2.7 lists=- action=pass

throttle follows downstream's replies (issue 13): a transaction starts when
MAIL gets 2xx, and THROTTLE_RCPT counts the recipients that were accepted.
rcptcheck after throttle refuses a malformed sender (553) and an unknown
recipient (550).

  $ printf '1@example.net\n2@example.net\n3@example.net\n4@example.net\n' | rcptcheck-build -f rcpt.cdb

A MAIL refused by a later link leaves the transaction as it was: the four
recipients after it are counted, the third and fourth get 451.

  $ printf 'HELO x\r\nMAIL FROM:<a@b.example>\r\nMAIL FROM:<bad..addr@b.example>\r\nRCPT TO:<1@example.net>\r\nRCPT TO:<2@example.net>\r\nRCPT TO:<3@example.net>\r\nRCPT TO:<4@example.net>\r\nQUIT\r\n' |
  > TCPREMOTEIP=192.0.2.20 THROTTLE_RCPT=2 throttle -d st rcptcheck -f rcpt.cdb smtpsink 2>log | cat -v; grep throttle: log
  220 smtpsink ESMTP^M
  250 smtpsink^M
  250 ok^M
  553 5.1.7 bad sender address syntax^M
  250 ok^M
  250 ok^M
  451 4.7.1 too many recipients in this connection: send the others later^M
  451 4.7.1 too many recipients in this connection: send the others later^M
  221 smtpsink^M
  throttle: ip=192.0.2.20 lists=- action=proxy rcpts=2 throttled=2 msgs=0

The same with rcptcheck in a process of its own (env in between), and one
command at a time.

  $ for c in 'HELO x' 'MAIL FROM:<a@b.example>' 'MAIL FROM:<bad..addr@b.example>' 'RCPT TO:<1@example.net>' 'RCPT TO:<2@example.net>' 'RCPT TO:<3@example.net>' QUIT; do printf '%s\r\n' "$c"; sleep 0.2; done |
  > TCPREMOTEIP=192.0.2.20 THROTTLE_RCPT=2 throttle -d st env rcptcheck -f rcpt.cdb smtpsink 2>/dev/null | tr -d '\r'
  220 smtpsink ESMTP
  250 smtpsink
  250 ok
  553 5.1.7 bad sender address syntax
  250 ok
  250 ok
  451 4.7.1 too many recipients in this connection: send the others later
  221 smtpsink

A recipient refused by a later link takes no place: with THROTTLE_RCPT=2 the
two valid ones after it go on, the next gets 451, pipelined or not. A burst
never gets more than 2 accepted.

  $ printf 'HELO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<nobody@example.net>\r\nRCPT TO:<1@example.net>\r\nRCPT TO:<nobody@example.net>\r\nRCPT TO:<2@example.net>\r\nRCPT TO:<3@example.net>\r\nRCPT TO:<4@example.net>\r\nQUIT\r\n' |
  > TCPREMOTEIP=192.0.2.21 THROTTLE_RCPT=2 RCPTCHECK_MAXREFUSED=0 throttle -d st rcptcheck -f rcpt.cdb smtpsink 2>log | cat -v; grep throttle: log
  220 smtpsink ESMTP^M
  250 smtpsink^M
  250 ok^M
  550 5.1.1 sorry, no mailbox here by that name^M
  250 ok^M
  550 5.1.1 sorry, no mailbox here by that name^M
  250 ok^M
  451 4.7.1 too many recipients in this connection: send the others later^M
  451 4.7.1 too many recipients in this connection: send the others later^M
  221 smtpsink^M
  throttle: ip=192.0.2.21 lists=- action=proxy rcpts=2 throttled=2 msgs=0
  $ for c in 'HELO x' 'MAIL FROM:<a@b.example>' 'RCPT TO:<nobody@example.net>' 'RCPT TO:<1@example.net>' 'RCPT TO:<2@example.net>' 'RCPT TO:<3@example.net>' QUIT; do printf '%s\r\n' "$c"; sleep 0.2; done |
  > TCPREMOTEIP=192.0.2.21 THROTTLE_RCPT=2 RCPTCHECK_MAXREFUSED=0 throttle -d st env rcptcheck -f rcpt.cdb smtpsink 2>/dev/null | tr -d '\r'
  220 smtpsink ESMTP
  250 smtpsink
  250 ok
  550 5.1.1 sorry, no mailbox here by that name
  250 ok
  250 ok
  451 4.7.1 too many recipients in this connection: send the others later
  221 smtpsink

A MAIL that throttle cannot parse but downstream takes (qmail-smtpd and
smtpsink take a sender without <>) starts a transaction all the same.

  $ printf 'HELO x\r\nMAIL FROM:a@b.example\r\nRCPT TO:<1@example.net>\r\nRCPT TO:<2@example.net>\r\nQUIT\r\n' |
  > TCPREMOTEIP=192.0.2.22 THROTTLE_RCPT=1 throttle -d st smtpsink 2>/dev/null | tr -d '\r'
  220 smtpsink ESMTP
  250 smtpsink
  250 ok
  250 ok
  451 4.7.1 too many recipients in this connection: send the others later
  221 smtpsink

The sender blacklist (-b): a 5xx at the end of DATA is remembered, and a
later MAIL refused by rcptcheck does not let the pair through. msg writes a
message from a sender, chain runs throttle -b with rcptcheck and smtpsink,
which refuses messages with certain words, and shows what is not 2xx or 354.

  $ printf '%s\n' '#!/bin/sh' "printf 'HELO x\\r\\nMAIL FROM:%s\\r\\nRCPT TO:<1@example.net>\\r\\nDATA\\r\\nSubject: t\\r\\n\\r\\n%s\\r\\n.\\r\\nQUIT\\r\\n' \"\$1\" \"\$2\"" > msg
  > cat > chain <<'SH'
  > #!/bin/sh
  > TCPREMOTEIP=$1 throttle -d st -b 3h rcptcheck -f rcpt.cdb smtpsink -x reject-data=SPAMSPAM \
  >   -x 'answer-data=BIG=552 5.3.4 message too big for smtpsink' -x 'answer-data=TEMP=451 4.3.0 try later' \
  >   -x 'answer-data=FULL=554 5.3.4 message too big for system' \
  >   -x 'answer-data=QMAIL=554 sorry, that message size exceeds my databytes limit (#5.3.4)' 2>&1 |
  >   tr -d '\r' | grep -v '^2[25]0 \|^354 \|^221 \|^smtpsink: \|^rcptcheck: '
  > SH
  > chmod +x msg chain; ./msg '<a@b.example>' hello | tr -d '\r'
  HELO x
  MAIL FROM:<a@b.example>
  RCPT TO:<1@example.net>
  DATA
  Subject: t
  
  hello
  .
  QUIT
  $ ./msg '<spam@b.example>' SPAMSPAM | ./chain 192.0.2.23
  > ./msg '<spam@b.example>' clean | ./chain 192.0.2.23
  > printf 'HELO x\r\nMAIL FROM:<spam@b.example>\r\nMAIL FROM:<bad..addr@b.example>\r\nRCPT TO:<1@example.net>\r\nQUIT\r\n' | ./chain 192.0.2.23
  554 message refused by smtpsink
  throttle: ip=192.0.2.23 lists=- action=proxy rcpts=1 remembered=1 msgs=0
  550 5.7.1 a message from this sender was refused from your address a short while ago: not accepted again for now
  554 no valid recipients
  502 unimplemented
  502 unimplemented
  502 unimplemented
  502 unimplemented
  throttle: ip=192.0.2.23 lists=- action=proxy rcpts=0 blacklisted=1 msgs=0
  553 5.1.7 bad sender address syntax
  550 5.7.1 a message from this sender was refused from your address a short while ago: not accepted again for now
  throttle: ip=192.0.2.23 lists=- action=proxy rcpts=0 blacklisted=1 msgs=0

Only a refusal of the content counts: not 552 or a size or storage code
(5.3.4, also written qmail's way, (#5.3.4)), never a 4xx. Each sender below
sends a second message that is taken.

  $ for w in BIG TEMP FULL QMAIL; do ./msg "<$w@b.example>" "$w" | ./chain 192.0.2.24; ./msg "<$w@b.example>" clean | ./chain 192.0.2.24; done
  552 5.3.4 message too big for smtpsink
  throttle: ip=192.0.2.24 lists=- action=proxy rcpts=1 msgs=0
  throttle: ip=192.0.2.24 lists=- action=proxy rcpts=1 msgs=1
  451 4.3.0 try later
  throttle: ip=192.0.2.24 lists=- action=proxy rcpts=1 msgs=0
  throttle: ip=192.0.2.24 lists=- action=proxy rcpts=1 msgs=1
  554 5.3.4 message too big for system
  throttle: ip=192.0.2.24 lists=- action=proxy rcpts=1 msgs=0
  throttle: ip=192.0.2.24 lists=- action=proxy rcpts=1 msgs=1
  554 sorry, that message size exceeds my databytes limit (#5.3.4)
  throttle: ip=192.0.2.24 lists=- action=proxy rcpts=1 msgs=0
  throttle: ip=192.0.2.24 lists=- action=proxy rcpts=1 msgs=1

A sender without <> is remembered under its address: the pair is refused
however the sender is written next time.

  $ printf 'HELO x\r\nMAIL FROM:Spam2@B.example\r\nRCPT TO:<1@example.net>\r\nDATA\r\nSPAMSPAM\r\n.\r\nQUIT\r\n' |
  > TCPREMOTEIP=192.0.2.25 throttle -d st -b 3h smtpsink -x reject-data=SPAMSPAM 2>&1 | tr -d '\r' | grep '^55\|throttle:'
  > printf 'HELO x\r\nMAIL FROM:<spam2@b.example>\r\nRCPT TO:<1@example.net>\r\nQUIT\r\n' |
  > TCPREMOTEIP=192.0.2.25 throttle -d st -b 3h smtpsink 2>&1 | tr -d '\r' | grep '^55\|throttle:'
  554 message refused by smtpsink
  throttle: ip=192.0.2.25 lists=- action=proxy rcpts=1 remembered=1 msgs=0
  550 5.7.1 a message from this sender was refused from your address a short while ago: not accepted again for now
  throttle: ip=192.0.2.25 lists=- action=proxy rcpts=0 blacklisted=1 msgs=0
