The proxy engine (common/sdu_proxy.c) through tests/sdu-testproxy, with
tests/smtpsink at the end of the chain. Input is written in one go, so every
dialogue is pipelined; replies must come back in order.

A whole session: STARTTLS is taken out of the EHLO reply, a refused recipient
never reaches downstream, the header goes in right after 354, dot-stuffing
passes, a bare LF in the data becomes CRLF.

  $ mkdir sink
  > printf 'EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<one@example.net>\r\nRCPT TO:<bad@example.net>\r\nRCPT TO:<two@example.net>\r\nDATA\r\nSubject: test\r\n\r\n..stuffed\r\nbare LF\nend\r\n.\r\nQUIT\r\n' |
  > sdu-testproxy -r bad -H 'X-Test: yes' smtpsink -d sink 2>/dev/null | sed 's/as [0-9]*\./as PID./' | cat -v
  220 smtpsink ESMTP^M
  250-smtpsink^M
  250-PIPELINING^M
  250-8BITMIME^M
  250-SIZE^M
  250 HELP^M
  250 ok^M
  250 ok^M
  550 5.1.1 no such user here^M
  250 ok^M
  354 go ahead^M
  250 ok queued as PID.1^M
  221 smtpsink^M
  $ cat -v sink/msg.*
  helo: client.example
  mail: <a@example.org>
  rcpt: <one@example.net>
  rcpt: <two@example.net>
  
  X-Test: yes^M
  Subject: test^M
  ^M
  .stuffed^M
  bare LF^M
  end^M

A large message goes through byte for byte (the data path hands whole
buffers over when nothing in them needs changing).

  $ mkdir big
  > awk 'BEGIN { printf "Subject: big\r\n\r\n"; for (i = 0; i < 20000; i++) printf "line %d of the message, with some text to make it longer\r\n", i }' > body
  > (printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n'; sleep 0.3; cat body; printf '.\r\nQUIT\r\n') |
  > sdu-testproxy -q smtpsink -d big > /dev/null 2>&1; sed '1,/^$/d' big/msg.* | cmp - body && echo identical
  identical

The hooks see commands as they are read and replies as they come (the
commands come after the greeting, for a fixed order).

  $ (sleep 1; printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nQUIT\r\n') | sdu-testproxy smtpsink 2>&1 >/dev/null | grep -v '^smtpsink'
  sdu-testproxy: reply=greeting code=220
  sdu-testproxy: cmd=HELO arg=x
  sdu-testproxy: cmd=MAIL arg=FROM:<a@example.org>
  sdu-testproxy: cmd=QUIT arg=-
  sdu-testproxy: reply=HELO code=250
  sdu-testproxy: reply=MAIL code=250
  sdu-testproxy: reply=QUIT code=221
  sdu-testproxy: action=end

10,000 pipelined recipients in one write, every third refused by the hook:
every one gets its reply, in order.

  $ awk 'BEGIN { printf "EHLO x\r\nMAIL FROM:<a@example.org>\r\n"; for (i = 1; i <= 10000; i++) printf "RCPT TO:<%s%d@example.net>\r\n", (i % 3 ? "u" : "bad"), i; printf "QUIT\r\n" }' |
  > sdu-testproxy -r bad smtpsink 2>/dev/null | tr -d '\r' |
  > awk 'NR > 7 && NR <= 10007 { want = (NR - 7) % 3 ? "250" : "550"; if (substr($0, 1, 3) != want) bad++ } END { print NR " replies, " bad + 0 " out of order"; print $0 }'
  10008 replies, 0 out of order
  221 smtpsink

The same with every recipient answered by the hook itself: the replies we
write outrun what the client reads, and the session must not stall.

  $ awk 'BEGIN { printf "EHLO a\r\nMAIL FROM:<a@example.org>\r\n"; for (i = 0; i < 10000; i++) printf "RCPT TO:<nosuch%d@example.net>\r\n", i; printf "QUIT\r\n" }' |
  > sdu-testproxy -r nosuch smtpsink 2>/dev/null | tr -d '\r' | sort | uniq -c | sort -rn | head -n 2 | sed 's/^ *//'
  10000 550 5.1.1 no such user here
  1 250-smtpsink

Bad command lines get 500 and the session goes on: over the limit, a NUL,
a bare CR.

  $ (head -c 3000 /dev/zero | tr '\0' x; printf '\r\nNOOP\r\nMAIL\0FROM:<a@b>\r\nRCPT\rTO:<x>\r\nNOOP\nQUIT\r\n') | sdu-testproxy smtpsink 2>/dev/null | cat -v
  220 smtpsink ESMTP^M
  500 5.5.2 line too long^M
  250 ok^M
  500 5.5.2 bad characters in command^M
  500 5.5.2 bad characters in command^M
  250 ok^M
  221 smtpsink^M

The same when the long line arrives whole in one read.

  $ printf 'HELO x\r\n%03000d\r\nQUIT\r\n' 0 > long; sdu-testproxy smtpsink < long 2>/dev/null | cat -v
  220 smtpsink ESMTP^M
  250 smtpsink^M
  500 5.5.2 line too long^M
  221 smtpsink^M

Memory stays bounded whatever the client sends: a 50 MB line (under 4 MiB;
64 MiB under the sanitizers, which have their own).

  $ (printf 'HELO x\r\n'; head -c 50000000 /dev/zero | tr '\0' x; printf '\r\nQUIT\r\n') | sdu-maxrss sdu-testproxy smtpsink 2>&1 >/dev/null | sed -n 's/^maxrss_kib=//p' | awk '{ max = ENVIRON["SDU_SANITIZE"] == "1" ? 65536 : 4096; print ($1 < max) ? "bounded" : $1 " KiB" }'
  bounded

A first line that is an HTTP request (a method line, "X target HTTP/d.d",
a header line) is a proxy abuser: 554 once and the session ends, logged,
before any hook; downstream (here behind tee) gets not a byte of it. Later
in the session the same lines are unknown commands that downstream answers.

  $ for l in 'GET / HTTP/1.1' 'POST /x HTTP/1.0' 'CONNECT 192.0.2.1:25 HTTP/1.1' 'PROPFIND / HTTP/1.1' 'Host: mx.example' 'User-Agent: curl/8.0'; do
  >   printf '%s\r\nHELO x\r\nMAIL FROM:<a@example.org>\r\nQUIT\r\n' "$l" | TCPREMOTEIP=192.0.2.9 sdu-testproxy sh -c 'tee seen | smtpsink' 2>err | cat -v
  >   grep -v -e reply=greeting -e '^smtpsink' err; wc -c < seen
  > done
  220 smtpsink ESMTP^M
  554 5.5.1 this is an SMTP server, not an HTTP proxy^M
  sdu-testproxy: ip=192.0.2.9 action=reject reason=nonsmtp
  sdu-testproxy: action=end
  0
  220 smtpsink ESMTP^M
  554 5.5.1 this is an SMTP server, not an HTTP proxy^M
  sdu-testproxy: ip=192.0.2.9 action=reject reason=nonsmtp
  sdu-testproxy: action=end
  0
  220 smtpsink ESMTP^M
  554 5.5.1 this is an SMTP server, not an HTTP proxy^M
  sdu-testproxy: ip=192.0.2.9 action=reject reason=nonsmtp
  sdu-testproxy: action=end
  0
  220 smtpsink ESMTP^M
  554 5.5.1 this is an SMTP server, not an HTTP proxy^M
  sdu-testproxy: ip=192.0.2.9 action=reject reason=nonsmtp
  sdu-testproxy: action=end
  0
  220 smtpsink ESMTP^M
  554 5.5.1 this is an SMTP server, not an HTTP proxy^M
  sdu-testproxy: ip=192.0.2.9 action=reject reason=nonsmtp
  sdu-testproxy: action=end
  0
  220 smtpsink ESMTP^M
  554 5.5.1 this is an SMTP server, not an HTTP proxy^M
  sdu-testproxy: ip=192.0.2.9 action=reject reason=nonsmtp
  sdu-testproxy: action=end
  0
  $ printf 'HELO x\r\nGET / HTTP/1.1\r\nHost: mx.example\r\nMAIL FROM:<a@example.org>\r\nQUIT\r\n' | sdu-testproxy sh -c 'tee seen | smtpsink' 2>err | cat -v
  > grep -v -e reply= -e '^smtpsink' err; tr -d '\r' < seen
  220 smtpsink ESMTP^M
  250 smtpsink^M
  502 unimplemented^M
  502 unimplemented^M
  250 ok^M
  221 smtpsink^M
  sdu-testproxy: cmd=HELO arg=x
  sdu-testproxy: cmd=other arg=/_HTTP/1.1
  sdu-testproxy: cmd=other arg=mx.example
  sdu-testproxy: cmd=MAIL arg=FROM:<a@example.org>
  sdu-testproxy: cmd=QUIT arg=-
  sdu-testproxy: action=end
  HELO x
  GET / HTTP/1.1
  Host: mx.example
  MAIL FROM:<a@example.org>
  QUIT

SDU_HARVEST: logged as what would have been refused, and passed on.

  $ printf 'GET / HTTP/1.1\r\nQUIT\r\n' | TCPREMOTEIP=192.0.2.9 SDU_HARVEST=1 sdu-testproxy -q smtpsink 2>&1 >/dev/null | grep nonsmtp
  sdu-testproxy: ip=192.0.2.9 action=harvest would=reject reason=nonsmtp

The end of data split over several reads, CR and LF apart.

  $ mkdir sink2
  > (printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n'; sleep 0.3; printf 'Subject: s\r\n\r\nline\r'; sleep 0.2; printf '\n.'; sleep 0.2; printf '\r'; sleep 0.2; printf '\nQUIT\r\n') |
  > sdu-testproxy smtpsink -d sink2 2>/dev/null | sed 's/as [0-9]*\./as PID./' | cat -v; tail -n 3 sink2/msg.* | cat -v
  220 smtpsink ESMTP^M
  250 smtpsink^M
  250 ok^M
  250 ok^M
  354 go ahead^M
  250 ok queued as PID.1^M
  221 smtpsink^M
  Subject: s^M
  ^M
  line^M

A client that leaves in the middle of the data: downstream gets EOF, no
message is taken.

  $ mkdir sink3
  > printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: cut\r\n\r\nhalf a mess' | sdu-testproxy smtpsink -d sink3 2>/dev/null | cat -v; ls sink3 | wc -l
  220 smtpsink ESMTP^M
  250 smtpsink^M
  250 ok^M
  250 ok^M
  354 go ahead^M
  451 4.3.0 message not accepted: the mail server failed, try again later^M
  0

Downstream that goes away: before its greeting, at MAIL, in the data, before
its final reply. The client gets 421 or 451, never a 250 for what downstream
did not accept.

  $ printf 'HELO x\r\nQUIT\r\n' | sdu-testproxy smtpsink -x close-greeting 2>/dev/null | cat -v
  421 4.3.0 the mail server is not available, closing connection^M
  $ printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nQUIT\r\n' | sdu-testproxy smtpsink -x close-mail 2>/dev/null | cat -v
  220 smtpsink ESMTP^M
  250 smtpsink^M
  421 4.3.0 the mail server is not available, closing connection^M
  $ printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: x\r\n\r\nsome text that is long enough\r\n.\r\nQUIT\r\n' | sdu-testproxy smtpsink -x close-data 2>/dev/null | cat -v
  220 smtpsink ESMTP^M
  250 smtpsink^M
  250 ok^M
  250 ok^M
  354 go ahead^M
  451 4.3.0 message not accepted: the mail server failed, try again later^M
  $ printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n' | sdu-testproxy smtpsink -x close-dot 2>/dev/null | cat -v
  220 smtpsink ESMTP^M
  250 smtpsink^M
  250 ok^M
  250 ok^M
  354 go ahead^M
  451 4.3.0 message not accepted: the mail server failed, try again later^M

A downstream program that cannot be run.

  $ printf 'HELO x\r\n' | sdu-testproxy /nonexistent/prog 2>&1 | cat -v
  sdu-testproxy: warning: unable to run /nonexistent/prog: No such file or directory
  421 4.3.0 the mail server is not available, closing connection^M
  sdu-testproxy: action=end

The downstream program starts with the signals as a program expects them,
whatever the proxy did with its own: SIGPIPE not ignored (the proxy ignores
it), nothing blocked (the proxy blocks every signal while it starts the
child, which shares its memory until it execs). The program is found on PATH.

  $ printf 'QUIT\r\n' | sdu-testproxy sed -n '/^Sig[IB]/w /dev/stderr' /proc/self/status 2>&1 >/dev/null |
  > awk '/^SigBlk/ { print "blocked: " $2 } /^SigIgn/ { print "SIGPIPE ignored: " (index("13579bdf", substr($2, 13, 1)) ? "yes" : "no") }'
  blocked: 0000000000000000
  SIGPIPE ignored: no

A hook that ends the session: its 421 is the last thing the client gets, and
nothing after that command reaches downstream.

  $ printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bad1@example.net>\r\nRCPT TO:<ok@example.net>\r\nRCPT TO:<bad2@example.net>\r\nRCPT TO:<bad3@example.net>\r\nQUIT\r\n' | sdu-testproxy -r bad -c 2 smtpsink 2>/dev/null | cat -v
  220 smtpsink ESMTP^M
  250 smtpsink^M
  250 ok^M
  550 5.1.1 no such user here^M
  250 ok^M
  421 4.7.0 too many unknown recipients, closing connection^M

A silent client is dropped after the idle time; a session is bounded as a
whole even when the client keeps talking.

  $ (printf 'HELO x\r\n'; sleep 3) | sdu-testproxy -i 1 smtpsink 2>log | cat -v; grep -v cmd= log
  220 smtpsink ESMTP^M
  250 smtpsink^M
  421 4.4.2 timeout, closing connection^M
  sdu-testproxy: reply=greeting code=220
  sdu-testproxy: reply=HELO code=250
  sdu-testproxy: warning: session timed out
  sdu-testproxy: action=end
  smtpsink: messages=0 bytes=0
  $ (printf 'HELO x\r\n'; sleep 1; printf 'NOOP\r\n'; sleep 1.6; printf 'NOOP\r\n'; sleep 1; printf 'NOOP\r\n') | sdu-testproxy -i 5 -s 2 smtpsink 2>/dev/null | cat -v
  220 smtpsink ESMTP^M
  250 smtpsink^M
  250 ok^M
  421 4.4.2 timeout, closing connection^M

After downstream accepts AUTH, everything passes unchecked; a failed AUTH
changes nothing.

  $ printf 'EHLO x\r\nAUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bad@example.net>\r\nQUIT\r\n' | sdu-testproxy -r bad smtpsink -x auth 2>/dev/null | cat -v
  220 smtpsink ESMTP^M
  250-smtpsink^M
  250-PIPELINING^M
  250-8BITMIME^M
  250-SIZE^M
  250-AUTH LOGIN PLAIN^M
  250 HELP^M
  334 VXNlcm5hbWU6^M
  334 UGFzc3dvcmQ6^M
  235 ok, go ahead^M
  250 ok^M
  250 ok^M
  221 smtpsink^M
  $ printf 'EHLO x\r\nAUTH LOGIN\r\ndXNlcg==\r\nYmFk\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bad@example.net>\r\nQUIT\r\n' | sdu-testproxy -r bad smtpsink -x auth 2>/dev/null | tail -n 4 | cat -v
  535 authentication failed^M
  250 ok^M
  550 5.1.1 no such user here^M
  221 smtpsink^M

STARTTLS and BDAT are answered by the proxy itself.

  $ printf 'EHLO x\r\nSTARTTLS\r\nBDAT 10 LAST\r\nQUIT\r\n' | sdu-testproxy smtpsink 2>/dev/null | tail -n 3 | cat -v
  454 4.7.0 TLS not available^M
  502 5.5.1 BDAT not supported, use DATA^M
  221 smtpsink^M

The responder: a refusal for every RCPT and DATA, never starting prog.

  $ printf 'EHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nQUIT\r\n' | sdu-testproxy -R '553 5.7.1 you are listed' smtpsink -x close-greeting | cat -v
  220 sdu.local ESMTP^M
  250 sdu.local^M
  250 2.0.0 ok^M
  553 5.7.1 you are listed^M
  553 5.7.1 you are listed^M
  221 sdu.local^M

SMTP smuggling (issue 13): only the client's CRLF.CRLF ends the data. After
"body1" each variant of an end of data that some server takes, then a
smuggled MAIL, RCPT and DATA (tests/lib/smuggle.sh, behind it smtpsink, which
takes a bare LF for a line end). A bare LF becomes CRLF and a dot after it is
stuffed, so downstream stores the text the client sent; a bare CR becomes a
space; downstream gets one end of data, no bare CR or LF, one message.

  $ sh "$TESTDIR/../lib/smuggle.sh" '\n.\nX\r\n' sdu-testproxy -q
  220 250 250 250 354 250 221 
  messages=1
  ends=1
  bare=0
  |Subject: s^M
  |^M
  |body1^M
  |.^M
  |X^M
  |MAIL FROM:<ceo@bank.example>^M
  |RCPT TO:<bob@example.net>^M
  |DATA^M
  |Subject: smuggled^M
  |^M
  |evil^M
  $ sh "$TESTDIR/../lib/smuggle.sh" '\r\n.\n' sdu-testproxy -q | sed -n '1,4p;7,8p'
  220 250 250 250 354 250 221 
  messages=1
  ends=1
  bare=0
  |body1^M
  |^M
  $ sh "$TESTDIR/../lib/smuggle.sh" '\r.\r\n' sdu-testproxy -q | sed -n '1,4p;7,8p'
  220 250 250 250 354 250 221 
  messages=1
  ends=1
  bare=0
  |body1 .^M
  |MAIL FROM:<ceo@bank.example>^M
  $ sh "$TESTDIR/../lib/smuggle.sh" '\n.\r' sdu-testproxy -q | sed -n '1,4p;7,8p'
  220 250 250 250 354 250 221 
  messages=1
  ends=1
  bare=0
  |body1^M
  |. MAIL FROM:<ceo@bank.example>^M
  $ sh "$TESTDIR/../lib/smuggle.sh" '\r\n.\0\r\n' sdu-testproxy -q | sed -n '1,4p;7,8p'
  220 250 250 250 354 250 221 
  messages=1
  ends=1
  bare=0
  |body1^M
  |^@^M
  $ sh "$TESTDIR/../lib/smuggle.sh" '\r\n\0.\r\n' sdu-testproxy -q | sed -n '1,4p;7,8p'
  220 250 250 250 354 250 221 
  messages=1
  ends=1
  bare=0
  |body1^M
  |^@.^M
  $ sh "$TESTDIR/../lib/smuggle.sh" '\r\n.\r\r\n' sdu-testproxy -q | sed -n '1,4p;7,8p'
  220 250 250 250 354 250 221 
  messages=1
  ends=1
  bare=0
  |body1^M
  | ^M

The same variants through the chain links that stand in the middle,
rcptcheck and throttle (their shared proxy), and after AUTH, when no hook
looks at anything: one summary line per variant and link, and the stored
text the same as through the test proxy. The real end of data (last) lets
the second transaction through, as it should.

  $ printf 'b@example.net\n' | rcptcheck-build -f rcpt.cdb; mkdir st
  > for v in '\n.\n' '\n.\r\n' '\r\n.\n' '\r.\r\n' '\n.\r' '\r.\r' '\n..\n' '\r\n.\0\r\n' '\r\n\0.\r\n' '\0\n.\n' '\r\n.\r\n'; do
  >   sh "$TESTDIR/../lib/smuggle.sh" "$v" sdu-testproxy -q > want
  >   for link in "rcptcheck -f rcpt.cdb" "throttle -d st" "-a sdu-testproxy -q" "-a rcptcheck -f rcpt.cdb"; do
  >     a=; case $link in -a*) a=-a; link=${link#-a }; esac
  >     # shellcheck disable=SC2086
  >     TCPREMOTEIP=192.0.2.7 THROTTLE_RCPT=5 sh "$TESTDIR/../lib/smuggle.sh" $a "$v" $link > got
  >     printf "%s %s\n" "$v" "${a:+auth }${link%% *}: $(sed -n 1p got | sed 's/250 250 250 354/.../') $(sed -n '2,4p' got | tr '\n' ' ')$(sed 1,4d got | cmp -s - "$(sed 1,4d want > w; echo w)" && echo same text)"
  >   done
  > done
  \n.\n rcptcheck: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \n.\n throttle: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \n.\n auth sdu-testproxy: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \n.\n auth rcptcheck: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \n.\r\n rcptcheck: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \n.\r\n throttle: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \n.\r\n auth sdu-testproxy: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \n.\r\n auth rcptcheck: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \r\n.\n rcptcheck: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \r\n.\n throttle: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \r\n.\n auth sdu-testproxy: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \r\n.\n auth rcptcheck: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \r.\r\n rcptcheck: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \r.\r\n throttle: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \r.\r\n auth sdu-testproxy: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \r.\r\n auth rcptcheck: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \n.\r rcptcheck: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \n.\r throttle: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \n.\r auth sdu-testproxy: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \n.\r auth rcptcheck: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \r.\r rcptcheck: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \r.\r throttle: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \r.\r auth sdu-testproxy: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \r.\r auth rcptcheck: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \n..\n rcptcheck: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \n..\n throttle: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \n..\n auth sdu-testproxy: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \n..\n auth rcptcheck: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \r\n.\0\r\n rcptcheck: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \r\n.\0\r\n throttle: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \r\n.\0\r\n auth sdu-testproxy: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \r\n.\0\r\n auth rcptcheck: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \r\n\0.\r\n rcptcheck: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \r\n\0.\r\n throttle: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \r\n\0.\r\n auth sdu-testproxy: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \r\n\0.\r\n auth rcptcheck: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \0\n.\n rcptcheck: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \0\n.\n throttle: 220 ... 250 221  messages=1 ends=1 bare=0 same text
  \0\n.\n auth sdu-testproxy: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \0\n.\n auth rcptcheck: 220 250 235 250 250 354 250 221  messages=1 ends=1 bare=0 same text
  \r\n.\r\n rcptcheck: 220 ... 250 250 550 554 502 502 502 502 221  messages=1 ends=2 bare=0 
  \r\n.\r\n throttle: 220 ... 250 250 250 354 250 221  messages=2 ends=2 bare=0 same text
  \r\n.\r\n auth sdu-testproxy: 220 250 235 250 250 354 ... 250 221  messages=2 ends=2 bare=0 same text
  \r\n.\r\n auth rcptcheck: 220 250 235 250 250 354 ... 250 221  messages=2 ends=2 bare=0 same text

SDU_BARELF=reject: a message with a bare LF gets 550 once the client's real
end of data has come; downstream never gets that end (it was cut off in the
data, and takes nothing), and the session ends with 421. A bare CR alone is
no reason (it becomes a space), nor is a clean message. (The log lines
sorted: downstream, cut off at the bare LF, may write its line first.)

  $ for link in "sdu-testproxy -q" "rcptcheck -f rcpt.cdb" "throttle -d st"; do
  >   for v in '\n.\n' '\r\n.\n' 'x\ny\r\n.\r\n' '\r.\r\n' '\r\n.\r\n'; do
  >     # shellcheck disable=SC2086
  >     printf '%s %s: %s\n' "$v" "${link%% *}" "$(SDU_BARELF=reject TCPREMOTEIP=192.0.2.7 THROTTLE_RCPT=5 sh "$TESTDIR/../lib/smuggle.sh" "$v" $link | sed -n 1,4p | tr '\n' ' ')"
  >   done
  > done
  > printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: s\r\n\r\nbare\nLF\r\n.\r\nQUIT\r\n' | SDU_BARELF=reject TCPREMOTEIP=192.0.2.7 rcptcheck -f rcpt.cdb smtpsink 2>&1 >/dev/null | sort
  \n.\n sdu-testproxy: 220 250 250 250 354 550 421  messages=0 ends=0 bare=0 
  \r\n.\n sdu-testproxy: 220 250 250 250 354 550 421  messages=0 ends=0 bare=0 
  x\ny\r\n.\r\n sdu-testproxy: 220 250 250 250 354 550 421  messages=0 ends=0 bare=0 
  \r.\r\n sdu-testproxy: 220 250 250 250 354 250 221  messages=1 ends=1 bare=0 
  \r\n.\r\n sdu-testproxy: 220 250 250 250 354 250 250 250 354 250 221  messages=2 ends=2 bare=0 
  \n.\n rcptcheck: 220 250 250 250 354 550 421  messages=0 ends=0 bare=0 
  \r\n.\n rcptcheck: 220 250 250 250 354 550 421  messages=0 ends=0 bare=0 
  x\ny\r\n.\r\n rcptcheck: 220 250 250 250 354 550 421  messages=0 ends=0 bare=0 
  \r.\r\n rcptcheck: 220 250 250 250 354 250 221  messages=1 ends=1 bare=0 
  \r\n.\r\n rcptcheck: 220 250 250 250 354 250 250 550 554 502 502 502 502 221  messages=1 ends=2 bare=0 
  \n.\n throttle: 220 250 250 250 354 550 421  messages=0 ends=0 bare=0 
  \r\n.\n throttle: 220 250 250 250 354 550 421  messages=0 ends=0 bare=0 
  x\ny\r\n.\r\n throttle: 220 250 250 250 354 550 421  messages=0 ends=0 bare=0 
  \r.\r\n throttle: 220 250 250 250 354 250 221  messages=1 ends=1 bare=0 
  \r\n.\r\n throttle: 220 250 250 250 354 250 250 250 354 250 221  messages=2 ends=2 bare=0 
  rcptcheck: ip=192.0.2.7 action=reject reason=barelf
  rcptcheck: ip=192.0.2.7 from=a@example.org rcpt=b@example.net action=accept reason=exact
  smtpsink: messages=0 bytes=0

Large messages never stall (issue 13): 30 messages of 20 MB in a row, each
written in one go after 354, against a fast downstream, a slow one (that
reads 256 bytes at a time, as qmail-smtpd reads 1024) and after AUTH. Each
gets its 250 within 60 seconds (a stall waited for the 20 minute idle time)
and arrives byte for byte (tests/lib/bigdata.py).

  $ mkdir big30; big() { python3 "$TESTDIR/../lib/bigdata.py" 30 20000000 big30 "$@" 2>/dev/null; }
  > big -- sdu-testproxy -q smtpsink -d big30
  > big -- sdu-testproxy -q smtpsink -d big30 -x read=256
  > big --auth -- sdu-testproxy -q smtpsink -d big30 -x auth -x read=512
  30 sent, 30 answered 250, 30 identical, 0 stalled
  30 sent, 30 answered 250, 30 identical, 0 stalled
  30 sent, 30 answered 250, 30 identical, 0 stalled

The injected lines end so that no client line can continue them (issue 13):
a message whose first line begins with a space or a tab folds into an empty
X-Sdu-Continuation: field, not into the last injected line; other messages
get nothing more, nor does a message when no link injects anything. A first
line that begins with a blank only once the client's dot stuffing is undone
or its bare CR is a space (". x", ".<TAB>x", "<CR>x", ".<CR>x") is one too;
a stuffed dot or an empty first line is not.

  $ mkdir fold; for first in ' folded' '\tfolded' 'Subject: plain' '. stuffed' '.\tstuffed' '\rbarecr' '.\rstuffedcr' '..dot' ''; do
  >   printf "HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n$first\r\n\r\nbody\r\n.\r\nQUIT\r\n" | sdu-testproxy -q -H 'X-Test: yes' smtpsink -d fold 2>/dev/null >/dev/null
  > done
  > printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n folded\r\n\r\nbody\r\n.\r\nQUIT\r\n' | sdu-testproxy -q smtpsink -d fold 2>/dev/null >/dev/null
  > for m in fold/msg.*; do sed '1,/^$/d' "$m" | sed -n '1,/^.$/p' | cat -vT; echo --; done
  X-Test: yes^M
  X-Sdu-Continuation:^M
   folded^M
  ^M
  --
  X-Test: yes^M
  X-Sdu-Continuation:^M
  ^Ifolded^M
  ^M
  --
  X-Test: yes^M
  Subject: plain^M
  ^M
  --
  X-Test: yes^M
  X-Sdu-Continuation:^M
   stuffed^M
  ^M
  --
  X-Test: yes^M
  X-Sdu-Continuation:^M
  ^Istuffed^M
  ^M
  --
  X-Test: yes^M
  X-Sdu-Continuation:^M
   barecr^M
  ^M
  --
  X-Test: yes^M
  X-Sdu-Continuation:^M
   stuffedcr^M
  ^M
  --
  X-Test: yes^M
  .dot^M
  ^M
  --
  X-Test: yes^M
  ^M
  --
   folded^M
  ^M
  --

The client's answer to a 334 goes on as it is, but a bare CR in it becomes
a space: no server behind us can take it for a line end and find a command.

  $ printf 'EHLO x\r\nAUTH LOGIN\r\ndXNlcg==\rMAIL FROM:<x@y>\r\ncGFzcw==\r\nQUIT\r\n' | sdu-testproxy -q sh -c 'tee authraw | exec smtpsink -x auth' 2>/dev/null | grep -v '^250-' | cat -v
  > cr=$(printf '\r'); grep -ac "$cr." authraw; grep -a '^dXNl' authraw | cat -v
  220 smtpsink ESMTP^M
  250 HELP^M
  334 VXNlcm5hbWU6^M
  334 UGFzc3dvcmQ6^M
  235 ok, go ahead^M
  221 smtpsink^M
  0
  dXNlcg== MAIL FROM:<x@y>^M
