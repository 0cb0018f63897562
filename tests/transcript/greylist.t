throttle's greylisting (throttle/throttle_session.c, throttle_store.c) with
tests/smtpsink at the end of the chain; SDU_TEST_NOW moves the clock. The
triplet= values are the hash of (client /24, sender, recipient). Every
connection's lines go to all.log too, for sdu-report at the end.

A client marked by THROTTLE_GREYLIST (rblcheck's greylist action sets it,
or tcprules): at first sight every recipient gets 451 4.7.1 and one log
line each; postmaster@ passes at once.

  $ mkdir sink st
  > cat > tx <<'E'
  > t=$1 ip=$2; shift 2; envs= opts=
  > for a; do case $a in *=*) envs="$envs $a" ;; *) opts="$opts $a" ;; esac; done
  > printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<1@example.net>\r\nRCPT TO:<2@example.net>\r\nRCPT TO:<postmaster@example.net>\r\nQUIT\r\n' |
  >   env SDU_TEST_NOW=$t TCPREMOTEIP=$ip $envs throttle -d st $opts smtpsink -d sink 2>log | tr -d '\r' | grep -v '^2[25]0 smtpsink'
  > cat log; cat log >> all.log
  > E
  > sh tx 100000 192.0.2.7 THROTTLE_GREYLIST=1
  250 ok
  451 4.7.1 greylisted: please try again later
  451 4.7.1 greylisted: please try again later
  250 ok
  221 smtpsink
  throttle: ip=192.0.2.7 lists=- action=tempfail grey=new triplet=06099e066876e35c40d04a02baef614e
  throttle: ip=192.0.2.7 lists=- action=tempfail grey=new triplet=dd627403f1390b600705032dce2c7b45
  throttle: ip=192.0.2.7 lists=- action=proxy rcpts=1 greylisted=2 msgs=0

A retry 4 minutes later is too early: 451 again, logged early.

  $ sh tx 100240 192.0.2.7 THROTTLE_GREYLIST=1
  250 ok
  451 4.7.1 greylisted: please try again later
  451 4.7.1 greylisted: please try again later
  250 ok
  221 smtpsink
  throttle: ip=192.0.2.7 lists=- action=tempfail grey=early triplet=06099e066876e35c40d04a02baef614e
  throttle: ip=192.0.2.7 lists=- action=tempfail grey=early triplet=dd627403f1390b600705032dce2c7b45
  throttle: ip=192.0.2.7 lists=- action=proxy rcpts=1 greylisted=2 msgs=0

In the window (5 minutes to 24 hours after first sight), from another
address of the same /24: both pass, logged pass.

  $ sh tx 100300 192.0.2.99 THROTTLE_GREYLIST=1
  250 ok
  250 ok
  250 ok
  250 ok
  221 smtpsink
  throttle: ip=192.0.2.99 lists=- action=pass grey=pass triplet=06099e066876e35c40d04a02baef614e
  throttle: ip=192.0.2.99 lists=- action=pass grey=pass triplet=dd627403f1390b600705032dce2c7b45
  throttle: ip=192.0.2.99 lists=- action=proxy rcpts=3 greypassed=2 msgs=0

A triplet that passed is remembered (for 35 days since its last use):
known, it passes at once.

  $ sh tx 200000 192.0.2.7 THROTTLE_GREYLIST=1
  250 ok
  250 ok
  250 ok
  250 ok
  221 smtpsink
  throttle: ip=192.0.2.7 lists=- action=pass grey=known triplet=06099e066876e35c40d04a02baef614e
  throttle: ip=192.0.2.7 lists=- action=pass grey=known triplet=dd627403f1390b600705032dce2c7b45
  throttle: ip=192.0.2.7 lists=- action=proxy rcpts=3 greypassed=2 msgs=0

A triplet first seen more than 24 hours before its retry is late: 451 again,
and its window starts anew.

  $ printf 'HELO x\r\nMAIL FROM:<b@example.org>\r\nRCPT TO:<1@example.net>\r\nQUIT\r\n' |
  >   SDU_TEST_NOW=300000 TCPREMOTEIP=192.0.2.7 THROTTLE_GREYLIST=1 throttle -d st smtpsink -d sink 2>log | tr -d '\r' | grep 451; cat log >> all.log
  451 4.7.1 greylisted: please try again later
  $ printf 'HELO x\r\nMAIL FROM:<b@example.org>\r\nRCPT TO:<1@example.net>\r\nQUIT\r\n' |
  >   SDU_TEST_NOW=400000 TCPREMOTEIP=192.0.2.7 THROTTLE_GREYLIST=1 throttle -d st smtpsink -d sink 2>log | tr -d '\r' | grep 451; cat log; cat log >> all.log
  451 4.7.1 greylisted: please try again later
  throttle: ip=192.0.2.7 lists=- action=tempfail grey=late triplet=5e64a1c85dd7caea98c5036824440ea1
  throttle: ip=192.0.2.7 lists=- action=proxy rcpts=0 greylisted=1 msgs=0

Bounces (MAIL FROM:<>) are keyed without the sender.

  $ printf 'HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<1@example.net>\r\nQUIT\r\n' |
  >   SDU_TEST_NOW=400000 TCPREMOTEIP=192.0.2.7 THROTTLE_GREYLIST=1 throttle -d st smtpsink -d sink 2>log | tr -d '\r' | grep 451; cat log; cat log >> all.log
  451 4.7.1 greylisted: please try again later
  throttle: ip=192.0.2.7 lists=- action=tempfail grey=new triplet=7ca59aa9e04ffd896e3f17366a947975
  throttle: ip=192.0.2.7 lists=- action=proxy rcpts=0 greylisted=1 msgs=0

Unmarked clients, RELAYCLIENT, and clients on throttle -w's list are never
greylisted, nor is a client that tcprules marks THROTTLE_GREYLIST=0 when
-l would.

  $ sh tx 100000 198.51.100.1
  250 ok
  250 ok
  250 ok
  250 ok
  221 smtpsink
  throttle: ip=198.51.100.1 lists=- action=pass
  $ sh tx 100000 198.51.100.1 THROTTLE_GREYLIST=1 RELAYCLIENT=
  250 ok
  250 ok
  250 ok
  250 ok
  221 smtpsink
  throttle: ip=198.51.100.1 lists=- action=pass reason=relayclient
  $ echo 198.51.100.0/24 > white; sh tx 100000 198.51.100.1 THROTTLE_GREYLIST=1 -w white
  250 ok
  250 ok
  250 ok
  250 ok
  221 smtpsink
  throttle: ip=198.51.100.1 lists=- action=pass
  $ sh tx 100000 198.51.100.1 RBLCHECK_LISTS=pbl THROTTLE_GREYLIST=0 -l
  250 ok
  250 ok
  250 ok
  250 ok
  221 smtpsink
  throttle: ip=198.51.100.1 lists=pbl action=pass

The options: -l greylists clients on any list, -n clients without rDNS
(TCPREMOTEHOST unset or empty); -m and -M move the window.

  $ sh tx 100000 203.0.113.1 RBLCHECK_LISTS=pbl -l | grep grey=
  throttle: ip=203.0.113.1 lists=pbl action=tempfail grey=new triplet=bb2f1b7df40d280e41218f4c708500e1
  throttle: ip=203.0.113.1 lists=pbl action=tempfail grey=new triplet=7d59f39dd7bf976c77b649ec9b3bbba2
  $ sh tx 100000 203.0.113.1 TCPREMOTEHOST=mail.example.com -n | grep grey=
  [1]
  $ sh tx 100000 203.0.114.1 TCPREMOTEHOST= -n | grep grey=
  throttle: ip=203.0.114.1 lists=- action=tempfail grey=new triplet=030fa443b94b00df2161818a6df595b0
  throttle: ip=203.0.114.1 lists=- action=tempfail grey=new triplet=63d75ef289f276ad12d4522f1e7ebf4a
  $ sh tx 100060 203.0.114.1 -n -m 1m | grep grey=
  throttle: ip=203.0.114.1 lists=- action=pass grey=pass triplet=030fa443b94b00df2161818a6df595b0
  throttle: ip=203.0.114.1 lists=- action=pass grey=pass triplet=63d75ef289f276ad12d4522f1e7ebf4a
  $ sh tx 100000 203.0.114.1 -m 1h -M 1h
  throttle: fatal: the greylisting delay (-m) must be shorter than its lifetime (-M)
  $ sh tx 100000 203.0.114.1 -a 5 | cut -c1-40
  throttle: usage: throttle [ -d statedir 

The automatic whitelist: a /24 with N transactions (here -a 2/35d) that
passed greylisting, counted at most once per delay (5 minutes), passes at
once for D days after its last counted pass.

  $ for t in 100000 100300 100600; do sh tx $t 192.0.3.1 THROTTLE_GREYLIST=1 -a 2/35d | grep grey= | sed 's/ triplet.*//'; done
  throttle: ip=192.0.3.1 lists=- action=tempfail grey=new
  throttle: ip=192.0.3.1 lists=- action=tempfail grey=new
  throttle: ip=192.0.3.1 lists=- action=pass grey=pass
  throttle: ip=192.0.3.1 lists=- action=pass grey=pass
  throttle: ip=192.0.3.1 lists=- action=pass grey=known
  throttle: ip=192.0.3.1 lists=- action=pass grey=auto
  $ printf 'HELO x\r\nMAIL FROM:<c@example.org>\r\nRCPT TO:<9@example.net>\r\nQUIT\r\n' |
  >   SDU_TEST_NOW=100700 TCPREMOTEIP=192.0.3.1 THROTTLE_GREYLIST=1 throttle -a 2/35d -d st smtpsink -d sink 2>log >/dev/null; cat log; cat log >> all.log
  throttle: ip=192.0.3.1 lists=- action=pass grey=auto triplet=6e32a75c78cdd43ac9aded472fec8f15
  throttle: ip=192.0.3.1 lists=- action=proxy rcpts=1 greypassed=1 msgs=0
  $ printf 'HELO x\r\nMAIL FROM:<d@example.org>\r\nRCPT TO:<9@example.net>\r\nQUIT\r\n' |
  >   SDU_TEST_NOW=3124599 TCPREMOTEIP=192.0.3.1 THROTTLE_GREYLIST=1 throttle -a 2/35d -d st smtpsink -d sink 2>log >/dev/null; cat log; cat log >> all.log
  throttle: ip=192.0.3.1 lists=- action=pass grey=auto triplet=ef88bbcd1a4a8d0c8ac67f3d2b11d3e5
  throttle: ip=192.0.3.1 lists=- action=proxy rcpts=1 greypassed=1 msgs=0
  $ printf 'HELO x\r\nMAIL FROM:<e@example.org>\r\nRCPT TO:<9@example.net>\r\nQUIT\r\n' |
  >   SDU_TEST_NOW=6148600 TCPREMOTEIP=192.0.3.1 THROTTLE_GREYLIST=1 throttle -a 2/35d -d st smtpsink -d sink 2>log >/dev/null; cat log; cat log >> all.log
  throttle: ip=192.0.3.1 lists=- action=tempfail grey=new triplet=3f17299724142a926b6003c01756891e
  throttle: ip=192.0.3.1 lists=- action=proxy rcpts=0 greylisted=1 msgs=0

sdu-report: the greylisting figures.

  $ sdu-report -s < all.log | sed -n '/^greylisting/,$p'
  greylisting: 11 greylisted (2 early retries, 1 late), 6 passed after retry,
    3 passed as known triplets, 3 whitelisted (automatic whitelist)
    greylisted triplets that never came back: 4 of 11 (36.4%)
