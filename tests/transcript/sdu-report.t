sdu-report (throttle/sdu-report.c) on a multilog directory: a rotated file
named before the period is not read, a rotated file within it and current
are, lines stamped before the period are skipped, unstamped lines always
count. The clock is SDU_TEST_NOW=1700007200; the period is the last hour.

  $ mkdir log
  > old=@400000006553f10a00000000   # 1700000000, two hours ago
  > mid=@400000006554073a00000000   # 1700005680, within the hour
  > printf '%s rblcheck: ip=192.0.2.66 lists=dul action=reject rule=1\n' $old > log/@400000006553f10a00000000.s
  > printf '%s rblcheck: ip=192.0.2.7 lists=dul action=reject rule=3\n%s rblcheck: ip=192.0.2.7 lists=orbs action=reject rule=4\n' $old $mid > log/@400000006554073a00000000.s
  > printf '%s rblcheck: ip=192.0.2.8 lists=- action=pass\n%s throttle: ip=192.0.2.8 lists=- action=tempfail reason=rate conn=31\n' $mid $mid > log/current
  > printf '%s rblcheck: ip=2001:db8::5 lists=spamhaus action=throttle\n%s throttle: ip=2001:db8::5 lists=spamhaus action=proxy rcpts=1 throttled=3 msgs=1\n' $mid $mid >> log/current
  > printf '%s rcptcheck: ip=198.51.100.2 from=a@example.org rcpt=b@example.net action=accept reason=table\n%s rblcheck: ip=198.51.100.2 lists=- action=pass\n' $mid $mid >> log/current
  > printf '%s rblcheck: warning: something\n' $mid >> log/current
  > SDU_TEST_NOW=1700007200 sdu-report -p 1h log
  connections refused rcpts-refused address                                 lists refusal
            1       1             0 192.0.2.7                               orbs rblcheck:reject
            1       1             0 192.0.2.8                               - throttle:tempfail
            1       0             3 2001:db8::5                             spamhaus
  $ SDU_TEST_NOW=1700007200 sdu-report -p 1h -n log
  add element inet sdu blocked { 192.0.2.7 timeout 6h }
  add element inet sdu blocked { 192.0.2.8 timeout 6h }
  add element inet sdu blocked6 { 2001:db8::5 timeout 6h }
  $ SDU_TEST_NOW=1700007200 sdu-report -p 1h -r -N 1 log
  192.0.2.7:deny
  $ SDU_TEST_NOW=1700007200 sdu-report -a -n -T 1d log
  add element inet sdu blocked { 192.0.2.7 timeout 1d }
  add element inet sdu blocked { 192.0.2.66 timeout 1d }
  add element inet sdu blocked { 192.0.2.8 timeout 1d }
  add element inet sdu blocked6 { 2001:db8::5 timeout 1d }
  $ SDU_TEST_NOW=1700007200 sdu-report -p 1h -s log
  period: 2023-11-14 23:13:20 to 2023-11-15 00:13:20 UTC
  lines from: 2023-11-14 23:48:00 to 2023-11-14 23:48:00 UTC
  lines: 9 read, 7 used, 1 before the period
  connections: 4 from 4 hosts
  connections refused: 2 (50.0%)
    by link:
      rblcheck                              1  50.0%
      throttle                              1  50.0%
    by list:
      orbs                                  1  50.0%
    by rule:
      rblcheck 4                            1  50.0%
    by reason:
      throttle rate                         1  50.0%
  senders refused: 0
  recipients refused: 3
    by link and reason:
      throttle throttled                    3 100.0%
  recipients accepted: 1
  messages passed: 1

Standard input, with and without stamps; usage.

  $ printf 'rblcheck: ip=192.0.2.1 lists=x action=reject\n' | sdu-report -r
  192.0.2.1:deny
  $ sdu-report -x
  sdu-report: usage: sdu-report [ -t | -n | -r | -s [ -H | -M to ] | -P file -S state ] [ -p period | -a ] [ -N hosts ] [ -m connections ] [ -T timeout ] [ file|dir ... ]
  [100]
  $ sdu-report nosuchfile
  sdu-report: fatal: unable to open nosuchfile: No such file or directory
  [111]

Millions of addresses (a client with an IPv6 network has them): the first
TR_HOSTS_MAX (131072) hosts are counted one by one, the others only in the
totals, with a warning; memory stays bounded (300000 hosts in the table
would take some 300 MB).

  $ awk 'BEGIN { for (i = 0; i < 300000; i++) printf "rblcheck: ip=10.%d.%d.%d lists=x action=reject\n", int(i / 65536), int(i / 256) % 256, i % 256 }' > big.log
  > sdu-maxrss sdu-report -s big.log > out 2> err; echo "exit $?"; grep -E '^connections|hosts than' out; grep -v maxrss err
  > sed -n 's/^maxrss_kib=//p' err | awk '{ max = ENVIRON["SDU_SANITIZE"] == "1" ? 400000 : 150000; print ($1 < max) ? "bounded" : $1 " KiB" }'
  exit 0
  connections: 300000 from 131072 hosts
    and more hosts than the 131072 counted one by one: 168928 lines about them are in the totals only
  connections refused: 300000 (100.0%)
  sdu-report: warning: more than 131072 hosts: the others are counted in the totals, not one by one
  bounded

A name from the log that a client chose (the "by" of a Received line in a
double-bounce): at most TR_TALLIES_MAX (100) names a tally, the rest are
"other" (20000 names made a summary of 20000 lines, in time that grew as
their square).

  $ awk 'BEGIN { for (i = 0; i < 20000; i++) printf "spamgrab: kind=double ip=- action=pass reason=no-trusted-received by=h%d.example\n", i }' > sg.log
  > sdu-report -s sg.log > out; echo "exit $?"; sed -n '/^  by:/,$p' out | wc -l; grep -E ' other ' out
  exit 0
  101
      other                             19901  99.5%

Greylisted triplets are followed one by one up to TR_TRIPLETS_MAX (262144):
the decisions about more count in the figures, not in the share that never
came back, and the summary says how many; memory stays bounded (each new
triplet took a slot before, 300000 of them 16 MB, a month's log gigabytes).

  $ awk 'BEGIN { for (i = 0; i < 300000; i++) printf "throttle: ip=192.0.2.7 lists=- action=tempfail grey=new triplet=%016x0000000000000000\n", i + 1
  >   printf "throttle: ip=192.0.2.7 lists=- action=pass grey=pass triplet=%016x0000000000000000\n", 1
  >   printf "throttle: ip=192.0.2.7 lists=- action=pass grey=pass triplet=%016x0000000000000000\n", 300000 }' > grey.log
  > sdu-maxrss sdu-report -s grey.log > out 2> err; echo "exit $?"; grep -A3 '^greylisting' out
  > sed -n 's/^maxrss_kib=//p' err | awk '{ max = ENVIRON["SDU_SANITIZE"] == "1" ? 200000 : 40000; print ($1 < max) ? "bounded" : $1 " KiB" }'
  > sdu-report -H grey.log | grep -o 'past the first 262,144[^/]*/td><td class="n">[0-9,]*'
  exit 0
  greylisting: 300000 greylisted (0 early retries, 0 late), 2 passed after retry,
    0 passed as known triplets, 0 whitelisted (automatic whitelist)
    greylisted triplets that never came back: 262143 of 262144 (100.0%)
    (of the first 262144 triplets: 37857 decisions about more are not in these two figures)
  bounded
  past the first 262,144 (not in the line above)</td><td class="n">37,857
