/* t_rcptcheck_rules.c: rcptcheck's glob patterns, local-part rules, sender blacklist, dated and counted forms */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sdu_t.h"
#include "../../rcptcheck/rcptcheck_rules.h"
#include "../../rcptcheck/rcptcheck_expire.h"

static int g(const char *p, const char *s) { return rc_glob(p, strlen(p), s, strlen(s)); }

int main(void)
{
  rc_rules rs = {0};
  rc_senders ss = {0};
  stralloc err = {0};
  rc_form f;
  const char *rules =
    "# the six rules of one site\n"
    "*[0-9]@*      Local parts never end in digits\n"
    "*,*           Local parts never contain a comma\n"
    "*|*           Local parts never contain a pipe\n"
    "[!a-zA-Z]*    Local parts start with a letter\n"
    "*\"*           Quotes are not used here\n";
  const char *senders =
    "linkedin.com   553 we do not want mail from LinkedIn\n"
    "Bad@Example.ORG no thanks\n"
    "org.example.net\n";

  T_OK(g("*", ""), "* matches the empty string");
  T_OK(g("a*b", "axxxb") && !g("a*b", "axxxc"), "star in the middle");
  T_OK(g("*[0-9]@*", "joe12@example.org"), "digits before the @");
  T_OK(!g("*[0-9]@*", "joe@example123.org"), "digits in the domain only do not match");
  T_OK(g("[!a-zA-Z]*", "1joe@x.org") && !g("[!a-zA-Z]*", "Joe@x.org"), "negated set");
  T_OK(g("[^a]?", "bc") && !g("[^a]?", "ac"), "^ negates too, ? takes one byte");
  T_OK(g("\\*x", "*x") && !g("\\*x", "ax"), "backslash quotes a star");
  T_OK(g("[]]x", "]x"), "] first in a set is literal");
  T_OK(g("[a-", "[a-"), "an unclosed [ is literal");
  T_OK(!g("a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "many stars end quickly");
  T_OK(g("*\"*", "\"a b\"@x.org"), "quote pattern");

  T_EQI(rc_rules_loadbuf(&rs, "rules", rules, strlen(rules), &err), 0, "rules load");
  T_EQI(rs.n, 5, "five rules");
  T_EQS(rc_rules_match(&rs, "steve7@example.org", 18) ? rc_rules_match(&rs, "steve7@example.org", 18) : "(none)",
    "Local parts never end in digits", "first rule with its text");
  T_OK(rc_rules_match(&rs, "a,b@example.org", 15) != 0, "comma rule");
  T_OK(rc_rules_match(&rs, "_x@example.org", 14) != 0, "letter rule");
  T_OK(rc_rules_match(&rs, "steve@example.org", 17) == 0, "ordinary address passes every rule");
  rc_rules_free(&rs);
  T_EQI(rc_rules_loadbuf(&rs, "rules", "a \"unterminated\n", 16, &err), -1, "bad rules file refused");
  T_OK(err.len && strstr(err.s, "rules line 1") != 0, "error names the line");
  rc_rules_free(&rs);

  T_EQI(rc_senders_loadbuf(&ss, "senders", senders, strlen(senders), &err), 0, "senders load");
  T_OK(rc_senders_match(&ss, "x@mail.linkedin.com", 19) != 0, "subdomain of a listed domain");
  T_OK(rc_senders_match(&ss, "x@linkedin.com", 14) != 0, "listed domain");
  T_OK(rc_senders_match(&ss, "x@notlinkedin.com", 17) == 0, "a suffix that is not a parent domain");
  T_OK(rc_senders_match(&ss, "bad@example.org", 15) != 0, "whole address, compared in lower case");
  T_OK(rc_senders_match(&ss, "good@example.org", 16) == 0, "other address of that domain");
  T_EQS(rc_senders_match(&ss, "x@org.example.net", 17), "", "entry without text");
  rc_senders_free(&ss);
  T_EQI(rc_senders_loadbuf(&ss, "senders", "@\n", 2, &err), -1, "bare @ refused");
  rc_senders_free(&ss);

  T_EQI(rc_form_parse("steve.3.count", 13, &f), RC_FORM_COUNT, "counted form");
  T_OK(f.baselen == 5 && f.count == 3, "counted base and count");
  T_EQI(rc_form_parse("steve.0.count", 13, &f), RC_FORM_NONE, "count 0 is no form");
  T_EQI(rc_form_parse(".3.count", 8, &f), RC_FORM_NONE, "empty base");
  T_EQI(rc_form_parse("steve.date.20-10-2026", 21, &f), RC_FORM_DATE, "dated form");
  T_OK(f.baselen == 5 && f.day == 20 && f.month == 10 && f.year == 2026, "dated fields");
  T_EQI(rc_form_parse("steve.date.30-02-2026", 21, &f), RC_FORM_NONE, "30 February is no date");
  T_EQI(rc_form_parse("steve.date.29-02-2024", 21, &f), RC_FORM_DATE, "leap day");
  T_EQI(rc_form_parse("steve.date.2-10-2026", 20, &f), RC_FORM_NONE, "one-digit day");
  setenv("TZ", "UTC0", 1); tzset();
  rc_form_parse("steve.date.20-10-2026", 21, &f);
  /* 2026-10-20 00:00:00 UTC = 1792454400 */
  T_OK(rc_form_date_ok(&f, (time_t) 1792454400 + 86399), "valid until the last second of the day");
  T_OK(!rc_form_date_ok(&f, (time_t) 1792454400 + 86400), "expired at midnight");
  stralloc_free(&err);
  T_DONE();
}
