/* t_config.c: config files as lines of words, errors and their messages */
#include <unistd.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "sdu_t.h"
#include "sdu_config.h"
#include "sdu_msg.h"

static char dir[256];

static int from(sdu_config *c, const char *text)
{
  return sdu_config_from_buf(c, "test.conf", text, strlen(text));
}

/* the words of every line joined as "w1|w2;" with quoted words in [] */
static void dump(sdu_config *c, stralloc *out, int *rlast)
{
  char **w;
  unsigned int n, i;
  int r;
  out->len = 0;
  while ((r = sdu_config_next(c, &w, &n)) == 1) {
    for (i = 0; i < n; ++i) {
      if (i) stralloc_cats(out, "|");
      if (sdu_config_quoted(c, i)) stralloc_cats(out, "[");
      stralloc_cats(out, w[i]);
      if (sdu_config_quoted(c, i)) stralloc_cats(out, "]");
    }
    if (w[n] != 0) stralloc_cats(out, "(not 0-terminated)");
    stralloc_cats(out, ";");
  }
  *rlast = r;
}

static void check_error(const char *text, unsigned long line, const char *err, const char *name)
{
  sdu_config c;
  stralloc sa = {0};
  int r;
  char **w;
  unsigned int n;
  T_OK(from(&c, text) == 0, "from_buf");
  dump(&c, &sa, &r);
  T_EQI(r, -1, name);
  T_EQI(c.line, line, "error line number");
  T_EQS(sdu_config_error(&c), err, "error text");
  T_EQI(sdu_config_next(&c, &w, &n), 0, "nothing is read after an error");
  sdu_config_free(&c);
  stralloc_free(&sa);
}

int main(void)
{
  sdu_config c;
  stralloc sa = {0};
  char **w;
  unsigned int n;
  int r;
  char path[300];

  snprintf(dir, sizeof dir, "tests/tmp/t_config.%ld", (long) getpid());
  if (mkdir("tests", 0755) == -1 && errno != EEXIST) return 111;
  mkdir("tests/tmp", 0755);
  if (mkdir(dir, 0755) == -1) { printf("not ok - cannot make %s\n", dir); return 1; }

  T_OK(from(&c, "") == 0, "empty buffer");
  T_EQI(sdu_config_next(&c, &w, &n), 0, "empty buffer: end at once");
  sdu_config_free(&c);

  from(&c, "# comment\n\n  list orbs  bl.example\t127.0.0.2 \n\t# indented comment\nreject \"go away\" # why\nlast");
  T_EQI(sdu_config_next(&c, &w, &n), 1, "first line");
  T_EQI(n, 4, "four words");
  T_EQI(c.line, 3, "line number counts skipped lines");
  T_EQS(w[0], "list", "word 1");
  T_EQS(w[3], "127.0.0.2", "word 4 (tab separated)");
  T_OK(w[4] == 0, "word list 0-terminated");
  T_OK(!sdu_config_quoted(&c, 0), "unquoted word flagged unquoted");
  T_EQI(sdu_config_next(&c, &w, &n), 1, "second line");
  T_EQI(c.line, 5, "second line number");
  T_EQI(n, 2, "comment after the words dropped");
  T_EQS(w[1], "go away", "quoted word keeps its blank");
  T_OK(sdu_config_quoted(&c, 1) && !sdu_config_quoted(&c, 0), "quoted flag set only on the quoted word");
  T_EQI(sdu_config_next(&c, &w, &n), 1, "last line without newline");
  T_EQS(w[0], "last", "last line word");
  T_EQI(c.line, 6, "last line number");
  T_EQI(sdu_config_next(&c, &w, &n), 0, "end");
  T_EQI(sdu_config_next(&c, &w, &n), 0, "end stays end");
  sdu_config_free(&c);

  from(&c, "a#b c#\n#x y\nd #e f\n\"#\" \"\" \"a\\\"b\\\\c\" x\"y\n\"reject\" reject\n");
  dump(&c, &sa, &r);
  T_EQB(sa.s, sa.len, "a#b|c#;d;[#]|[]|[a\"b\\c]|x\"y;[reject]|reject;",
    "# only starts a comment at the start of a word; quotes, escapes, empty quoted word");
  T_EQI(r, 0, "clean end");
  sdu_config_free(&c);

  from(&c, "a b\r\n\r\nc \"d e\"\r\n");
  dump(&c, &sa, &r);
  T_EQB(sa.s, sa.len, "a|b;c|[d e];", "CRLF line ends");
  T_EQI(r, 0, "CRLF: clean end");
  sdu_config_free(&c);

  check_error("ok\n\nbad \"open\n", 3, "unterminated quote", "unterminated quote");
  check_error("bad \"open\\\"\n", 1, "unterminated quote", "unterminated quote after escaped quote");
  check_error("x \"a\\nb\"\n", 1, "unknown escape in quotes, only \\\" and \\\\ are known", "unknown escape");
  check_error("x \"a\"b\n", 1, "closing quote not followed by a blank", "text glued to a closing quote");
  check_error("a\nb\rc\n", 2, "control character in line", "bare CR");
  check_error("a\n\nb\001\n", 3, "control character in line", "control byte");
  {
    static const char nul[] = "a\nb\0c\n";
    sdu_config_from_buf(&c, "t", nul, sizeof nul - 1);
    T_EQI(sdu_config_next(&c, &w, &n), 1, "line before NUL");
    T_EQI(sdu_config_next(&c, &w, &n), -1, "NUL byte refused");
    T_EQS(sdu_config_error(&c), "NUL byte in line", "NUL error text");
    sdu_config_free(&c);
  }
  from(&c, "caf\xc3\xa9 \"\xe2\x82\xac\"\n");
  dump(&c, &sa, &r);
  T_EQB(sa.s, sa.len, "caf\xc3\xa9|[\xe2\x82\xac];", "8-bit bytes pass");
  sdu_config_free(&c);

  {
    /* LINE_MAX bytes of "a a a ...": the most words a line can hold */
    char *big = malloc(2 * SDU_CONFIG_LINE_MAX + 4);
    size_t i;
    if (!big) return 111;
    for (i = 0; i < SDU_CONFIG_LINE_MAX; ++i) big[i] = i % 2 ? ' ' : 'a';
    big[SDU_CONFIG_LINE_MAX] = '\n';
    T_OK(sdu_config_from_buf(&c, "t", big, SDU_CONFIG_LINE_MAX + 1) == 0, "long line buffer");
    T_EQI(sdu_config_next(&c, &w, &n), 1, "line of LINE_MAX bytes read");
    T_EQI(n, SDU_CONFIG_LINE_MAX / 2, "all its words");
    T_OK(w[n] == 0 && !strcmp(w[n - 1], "a"), "last word and terminator");
    sdu_config_free(&c);
    big[SDU_CONFIG_LINE_MAX - 1] = 'a';
    memcpy(big + SDU_CONFIG_LINE_MAX, "\r\nx\n", 4);
    sdu_config_from_buf(&c, "t", big, SDU_CONFIG_LINE_MAX + 4);
    T_EQI(sdu_config_next(&c, &w, &n), 1, "LINE_MAX bytes plus CRLF read");
    T_EQI(sdu_config_next(&c, &w, &n), 1, "line after it");
    sdu_config_free(&c);
    big[SDU_CONFIG_LINE_MAX] = 'b';
    big[SDU_CONFIG_LINE_MAX + 1] = '\n';
    sdu_config_from_buf(&c, "t", big, SDU_CONFIG_LINE_MAX + 2);
    T_EQI(sdu_config_next(&c, &w, &n), -1, "line of LINE_MAX+1 bytes refused");
    T_EQS(sdu_config_error(&c), "line too long", "line too long text");
    sdu_config_free(&c);
    free(big);
  }

  /* files */
  snprintf(path, sizeof path, "%s/none", dir);
  errno = 0;
  T_EQI(sdu_config_open(&c, path), -1, "missing file");
  T_EQI(errno, ENOENT, "missing file: ENOENT");
  snprintf(path, sizeof path, "%s/policy", dir);
  { static const char pol[] = "list orbs bl.example\n\nreject \"x\"\n"; t_writefile(path, pol, sizeof pol - 1); }
  T_EQI(sdu_config_open(&c, path), 0, "open file");
  dump(&c, &sa, &r);
  T_EQB(sa.s, sa.len, "list|orbs|bl.example;reject|[x];", "file read");
  T_EQI(r, 0, "file: clean end");
  sdu_config_free(&c);
  {
    char *big = malloc(SDU_CONFIG_FILE_MAX + 1);
    size_t i;
    if (!big) return 111;
    for (i = 0; i < SDU_CONFIG_FILE_MAX + 1; ++i) big[i] = i % 64 == 63 ? '\n' : 'x';
    snprintf(path, sizeof path, "%s/max", dir);
    t_writefile(path, big, SDU_CONFIG_FILE_MAX);
    T_EQI(sdu_config_open(&c, path), 0, "file of FILE_MAX bytes");
    dump(&c, &sa, &r);
    T_OK(r == 0 && c.line == SDU_CONFIG_FILE_MAX / 64, "file of FILE_MAX bytes: every line");
    sdu_config_free(&c);
    snprintf(path, sizeof path, "%s/big", dir);
    t_writefile(path, big, SDU_CONFIG_FILE_MAX + 1);
    errno = 0;
    T_EQI(sdu_config_open(&c, path), -1, "file over FILE_MAX refused");
    T_EQI(errno, EFBIG, "file over FILE_MAX: EFBIG");
    errno = 0;
    T_EQI(sdu_config_from_buf(&c, "-", big, SDU_CONFIG_FILE_MAX + 1), -1, "buffer over FILE_MAX refused");
    T_EQI(errno, EFBIG, "buffer over FILE_MAX: EFBIG");
    free(big);
  }
  T_EQI(sdu_config_open(&c, dir), -1, "a directory is refused");
  /* the descriptor (opened without O_CLOEXEC) is closed on every path */
  {
    int lo = dup(0), after;
    const char *const files[] = { "policy", "none", "big", "max", "" };
    unsigned int k, leaked = 0;
    close(lo);
    for (k = 0; k < sizeof files / sizeof *files; ++k) {
      snprintf(path, sizeof path, "%s/%s", dir, files[k]);
      if (sdu_config_open(&c, path) == 0) sdu_config_free(&c);
      after = dup(0);
      if (after != lo) ++leaked;
      close(after);
    }
    T_EQI(leaked, 0, "no descriptor left open: a file, a missing one, one too big, FILE_MAX, a directory");
  }

  /* the words arrays are sized from the file's length: the densest lines
     (one-byte words, one blank between, quoted empty words) all fit */
  {
    static const char *const dense[] = { "a", "a b", "a b c\n", "a b c d e f g h i j k l m n o p",
      "\"\" \"\" \"\"", "a\nb c\nd e f", "x \"\" y \"\" z\n", "" };
    static const char *const want[] = { "a;", "a|b;", "a|b|c;", "a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p;",
      "[]|[]|[];", "a;b|c;d|e|f;", "x|[]|y|[]|z;", "" };
    unsigned int k;
    snprintf(path, sizeof path, "%s/dense", dir);
    for (k = 0; k < sizeof dense / sizeof *dense; ++k) {
      t_writefile(path, dense[k], strlen(dense[k]));
      T_EQI(sdu_config_open(&c, path), 0, "dense file opens");
      dump(&c, &sa, &r);
      T_EQB(sa.s, sa.len, want[k], "dense file: every word");
      T_EQI(r, 0, "dense file: clean end");
      sdu_config_free(&c);
    }
  }
  /* a file that does not seek (a FIFO) is read as before, to its end */
  snprintf(path, sizeof path, "%s/fifo", dir);
  if (mkfifo(path, 0600) == 0) {
    pid_t pid = fork();
    if (pid == 0) {
      int fd = open(path, O_WRONLY);
      static const char text[] = "list a b.example\nrule a reject\n";
      if (fd == -1 || write(fd, text, sizeof text - 1) != (ssize_t) sizeof text - 1) _exit(1);
      _exit(0);
    }
    T_EQI(sdu_config_open(&c, path), 0, "FIFO opens");
    dump(&c, &sa, &r);
    T_EQB(sa.s, sa.len, "list|a|b.example;rule|a|reject;", "FIFO: every line");
    sdu_config_free(&c);
    waitpid(pid, 0, 0);
  } else T_OK(0, "mkfifo");

  /* messages */
  from(&c, "a\n\n\n\n\n\nlist orbz\n");
  sdu_config_next(&c, &w, &n);
  sdu_config_next(&c, &w, &n);
  sa.len = 0;
  T_OK(sdu_config_fmt(&sa, &c, "unknown list ", w[1]), "fmt");
  T_EQB(sa.s, sa.len, "test.conf line 7: unknown list orbz", "message names file and line");
  sdu_config_free(&c);
  from(&c, "x\n");
  sa.len = 0;
  sdu_config_fmt(&sa, &c, "no list defined", 0);
  T_EQB(sa.s, sa.len, "test.conf: no list defined", "before any line: no line number");
  sdu_config_free(&c);
  {
    sdu_config e;
    sdu_config_from_buf(&e, "bad\nname", "x", 1);
    sdu_config_next(&e, &w, &n);
    sa.len = 0;
    sdu_config_fmt(&sa, &e, "unknown word ", "a\033[2Jb");
    T_EQB(sa.s, sa.len, "bad_name line 1: unknown word a_[2Jb", "file name and msg2 made printable");
    sdu_config_free(&e);
  }
  {
    int p[2], status;
    pid_t pid;
    char buf[256];
    size_t len = 0;
    ssize_t got;
    if (pipe(p) == -1) return 111;
    pid = fork();
    if (pid == -1) return 111;
    if (pid == 0) {
      sdu_config f;
      char **fw;
      unsigned int fn;
      dup2(p[1], 2);
      close(p[0]);
      sdu_iam("rblcheck");
      sdu_config_from_buf(&f, "policy", "\n\n\n\n\n\nlist orbz\n", 16);
      sdu_config_next(&f, &fw, &fn);
      sdu_config_fatal(&f, "unknown list ", fw[1]);
      _exit(0);
    }
    close(p[1]);
    while (len < sizeof buf && (got = read(p[0], buf + len, sizeof buf - len)) > 0) len += (size_t) got;
    close(p[0]);
    waitpid(pid, &status, 0);
    T_EQB(buf, len, "rblcheck: fatal: policy line 7: unknown list orbz\n", "fatal message on fd 2");
    T_OK(WIFEXITED(status) && WEXITSTATUS(status) == 100, "fatal exits 100");
  }

  stralloc_free(&sa);
  snprintf(path, sizeof path, "rm -rf %s", dir);
  if (system(path) != 0) printf("# could not remove %s\n", dir);
  T_DONE();
}
