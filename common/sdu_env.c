/* sdu_env.c: environment access (the exec of the next program: sdu_exec.c) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sdu_env.h"
#include "sdu_msg.h"
#include "sdu_smtp.h"

const char *sdu_env_get(const char *name) { return getenv(name); }

int sdu_env_isset(const char *name) { return getenv(name) != 0; }

int sdu_env_set(const char *name, const char *value) { return setenv(name, value, 1) == 0; }

int sdu_env_unset(const char *name) { return unsetenv(name) == 0; }

const char *sdu_env_remoteip(void)
{
  const char *ip = getenv("TCPREMOTEIP");
  return (ip && *ip) ? ip : "unknown";
}

const char *sdu_whoami(char *buf, unsigned int max)
{
  /* /etc/passwd read by hand: getpwuid would want NSS's shared libraries in a static program */
  unsigned long uid = (unsigned long) geteuid();
  char line[512];
  FILE *f = fopen("/etc/passwd", "re");
  if (!max) return "";
  snprintf(buf, max, "uid %lu", uid);
  if (!f) return buf;
  while (fgets(line, sizeof line, f)) {
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : 0, *end;
    unsigned long u;
    if (!c2 || c1 == line) continue;
    u = strtoul(c2 + 1, &end, 10);
    if (end == c2 + 1 || *end != ':' || u != uid) continue;
    if ((size_t) (c1 - line) < max) { memcpy(buf, line, (size_t) (c1 - line)); buf[c1 - line] = 0; }
    break;
  }
  fclose(f);
  return buf;
}
