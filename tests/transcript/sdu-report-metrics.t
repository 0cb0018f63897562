sdu-report -P (throttle/sdu-report.c, throttle_logread.c, throttle_metrics.c):
each run reads what is new since the last one and adds it to counters kept in
the state file -S, and writes Prometheus's text format atomically. The helper
"line N action" appends a stamped rblcheck line (stamp 1700000000 + N);
"show" prints the counters that tell what was read.

  $ mkdir log
  > cat > line <<'X'
  > printf '@40000000%08x00000000 rblcheck: ip=192.0.2.%d lists=dul action=%s\n' $((1700000010 + $1)) $1 $2
  > X
  > cat > show <<'X'
  > grep -E '^sdu_(log|connections_total)' m.prom
  > X
  > sh line 1 pass > log/current; sh line 2 reject >> log/current
  > printf '@40000000%08x00000000 rblcheck: ip=192.0.2.3 lists=dul act' $((1700000013)) >> log/current
  > sdu-report -P m.prom -S st log && sh show && ls | grep -v '^cmd$'
  sdu_log_lines_total 2
  sdu_connections_total{link="rblcheck",action="pass"} 1
  sdu_connections_total{link="rblcheck",action="reject"} 1
  sdu_log_last_line_timestamp_seconds 1700000002
  line
  log
  m.prom
  show
  st
  st.lock

A line still being written is left for the next run; nothing new counts nothing.

  $ printf 'ion=reject\n' >> log/current; sh line 4 pass >> log/current
  > ls -i m.prom > inode1
  > sdu-report -P m.prom -S st log && sh show
  > ls -i m.prom > inode2; cmp -s inode1 inode2 || echo "replaced by rename"
  > sdu-report -P m.prom -S st log && sh show
  sdu_log_lines_total 4
  sdu_connections_total{link="rblcheck",action="pass"} 2
  sdu_connections_total{link="rblcheck",action="reject"} 2
  sdu_log_last_line_timestamp_seconds 1700000004
  replaced by rename
  sdu_log_lines_total 4
  sdu_connections_total{link="rblcheck",action="pass"} 2
  sdu_connections_total{link="rblcheck",action="reject"} 2
  sdu_log_last_line_timestamp_seconds 1700000004

multilog rotates: current is renamed to @tai64n.s and a new current begins.
The rest of the rotated file (found by its inode) is read, then the new
current from its start.

  $ sh line 5 reject >> log/current; mv log/current log/@400000006553f10f00000000.s
  > sh line 6 pass > log/current; sh line 7 pass >> log/current
  > sdu-report -P m.prom -S st log && sh show
  sdu_log_lines_total 7
  sdu_connections_total{link="rblcheck",action="pass"} 4
  sdu_connections_total{link="rblcheck",action="reject"} 3
  sdu_log_last_line_timestamp_seconds 1700000007

Two rotations between runs: the rest of the first file, all of the second,
then current.

  $ sh line 8 reject >> log/current; mv log/current log/@400000006553f11200000000.s
  > sh line 9 reject > log/current; mv log/current log/@400000006553f11300000000.s
  > sh line 10 pass > log/current
  > sdu-report -P m.prom -S st log && sh show
  sdu_log_lines_total 10
  sdu_connections_total{link="rblcheck",action="pass"} 5
  sdu_connections_total{link="rblcheck",action="reject"} 5
  sdu_log_last_line_timestamp_seconds 1700000010

A processor (multilog's !) writes the rotated file anew: no file has the
inode any more; the lines stamped after the last one read are counted, once.
multilog deleting the oldest files does not count anything again either.

  $ sh line 11 pass >> log/current; cp log/current log/@400000006553f11600000000.s; rm log/current
  > sh line 12 reject > log/current
  > rm log/@400000006553f10f00000000.s
  > sdu-report -P m.prom -S st log && sh show
  sdu_log_lines_total 12
  sdu_connections_total{link="rblcheck",action="pass"} 6
  sdu_connections_total{link="rblcheck",action="reject"} 6
  sdu_log_last_line_timestamp_seconds 1700000012

A file as the source, next to the directory; a source no longer named is
forgotten, and read whole when it comes back.

  $ sh line 20 tempfail > one.log
  > sdu-report -P m.prom -S st log one.log && sh show
  > sh line 21 tempfail >> one.log
  > sdu-report -P m.prom -S st log one.log && grep -c '^pos ' st && grep tempfail m.prom
  sdu_log_lines_total 13
  sdu_connections_total{link="rblcheck",action="pass"} 6
  sdu_connections_total{link="rblcheck",action="reject"} 6
  sdu_connections_total{link="rblcheck",action="tempfail"} 1
  sdu_log_last_line_timestamp_seconds 1700000020
  2
  sdu_connections_total{link="rblcheck",action="tempfail"} 2

The state is sdu-report's own; one run at a time; -P needs -S.

  $ echo 'something else' > bad
  > sdu-report -P m.prom -S bad log
  sdu-report: fatal: unable to read bad line 1: not sdu-report's state (remove it to count anew)
  [100]
  $ sdu-report -P m.prom log
  sdu-report: usage: sdu-report [ -t | -n | -r | -s [ -H | -M to ] | -P file -S state ] [ -p period | -a ] [ -N hosts ] [ -m connections ] [ -T timeout ] [ file|dir ... ]
  [100]
  $ python3 -c 'import fcntl, os, sys, time
  > f = open("st.lock", "a"); fcntl.lockf(f, fcntl.LOCK_EX); os.write(1, b"locked\n")
  > time.sleep(30)' > held & pid=$!
  > i=0; while [ ! -s held ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  > sdu-report -P m.prom -S st log; echo "exit $?"; kill $pid; wait $pid 2>/dev/null; ls m.prom*
  sdu-report: fatal: unable to lock st.lock (another sdu-report -P?): Resource temporarily unavailable
  exit 111
  m.prom

More than TM_LISTS (32) list names: the rest count as list="other", and the
state keeps them under that name. Read back, and with a list named "other",
they stay one series: node_exporter refuses a file with a series twice.

  $ mkdir many; i=1; while [ $i -le 33 ]; do
  >   echo "rblcheck: ip=192.0.2.1 lists=l$i action=reject rule=1"; i=$((i + 1)); done > many/log
  > sdu-report -P many/m.prom -S many/st many/log
  > echo "rblcheck: ip=192.0.2.1 lists=l99,other action=reject rule=1" >> many/log
  > sdu-report -P many/m.prom -S many/st many/log && grep 'list="other"' many/m.prom
  sdu_list_refusals_total{list="other"} 3
