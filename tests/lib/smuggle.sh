#!/bin/sh
# smuggle.sh: the SMTP smuggling attempt of issue 13 with one end-of-data
# variant, through a chain link to tests/smtpsink, which ends the data as
# leniently as servers that were smuggled through (a bare LF ends a line).
# usage: smuggle.sh [ -a ] VARIANT prog [ arg ... ]
#   VARIANT, a printf format, goes between the first message's "body1" and
#   the smuggled MAIL, RCPT, DATA; prog is the link, smtpsink is added as
#   its downstream; -a authenticates first (AUTH PLAIN, smtpsink -x auth)
# Prints the replies on one line, "messages=N" stored, "ends=N" lines "."
# downstream got, "bare=N" bare LFs and bare CRs downstream got, then the
# stored message text (cat -v) with "|" before every line.
auth=
[ "$1" = -a ] && { auth=1; shift; }
v=$1; shift
rm -rf smug.sink smug.raw; mkdir smug.sink || exit 1
{
  if [ -n "$auth" ]; then printf 'EHLO x\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\n'; else printf 'HELO x\r\n'; fi
  printf 'MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: s\r\n\r\nbody1'
  printf "$v"
  printf 'MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\nQUIT\r\n'
} | "$@" sh -c "tee smug.raw | exec smtpsink -d smug.sink ${auth:+-x auth}" 2>/dev/null |
  grep -v '^250-' | cut -c1-3 | tr '\n' ' '
echo
echo "messages=$(ls smug.sink | wc -l)"
cr=$(printf '\r')
echo "ends=$(grep -ac "^\\.$cr\$" smug.raw)"
# a bare LF is an LF with no CR before it, a bare CR a CR with no LF after it;
# the last line downstream got may be cut short (SDU_BARELF=reject cuts the
# data off where the bare LF came): an unfinished line is not a bare line end
echo "bare=$(python3 -c 'import re, sys
d = open(sys.argv[1], "rb").read()
print(len(re.findall(rb"(?<!\r)\n", d)) + len(re.findall(rb"\r(?!\n)", d[:-1] if d.endswith(b"\r") else d)))' smug.raw)"
for m in smug.sink/msg.*; do [ -f "$m" ] && sed '1,/^$/d' "$m" | cat -v | sed 's/^/|/'; done
