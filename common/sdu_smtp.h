/* sdu_smtp.h: SMTP command and reply parsing, the responder, the proxy engine */
#ifndef SDU_SMTP_H
#define SDU_SMTP_H

#include <stddef.h>
#include <stralloc.h>

/* --- commands and replies ------------------------------------------- */

enum sdu_verb {
  SDU_V_GREETING, /* not a command: downstream's greeting */
  SDU_V_HELO, SDU_V_EHLO, SDU_V_MAIL, SDU_V_RCPT, SDU_V_DATA,
  SDU_V_DOT,      /* not a command: the end of the message data */
  SDU_V_RSET, SDU_V_NOOP, SDU_V_QUIT, SDU_V_VRFY, SDU_V_AUTH,
  SDU_V_STARTTLS, SDU_V_BDAT,
  SDU_V_AUTHLINE, /* not a command: a client line inside an AUTH exchange */
  SDU_V_OTHER,
  SDU_V_BAD       /* a line the engine refused itself (too long, NUL, CR) */
};

#define SDU_SMTP_LINE_MAX 2048  /* longest command line accepted, CRLF included */
#define SDU_SMTP_TEXT_MAX 400   /* longest reply text we write ourselves */

/* classify a command line (no CRLF); *arg is the offset of its argument */
int sdu_smtp_verb(const char *line, size_t len, size_t *arg);
const char *sdu_smtp_verbname(int verb);
/* a reply line "ddd", "ddd text" or "ddd-text": 1 and its code, 0 if malformed;
   *more is set when another line of the same reply follows */
int sdu_smtp_replyline(const char *line, size_t len, int *code, int *more);
/* 1 if the first command line of a session (no CRLF) is an HTTP request
   (a method line, "X target HTTP/d.d" or a header line "Name: ..."): a
   proxy abuser on port 25, not a mail client (postscreen's non_smtp_command) */
int sdu_smtp_nonsmtp(const char *line, size_t len);
#define SDU_SMTP_NONSMTP "554 5.5.1 this is an SMTP server, not an HTTP proxy"
/* 1 if the command line holds only bytes a command may hold */
int sdu_smtp_cleanline(const char *line, size_t len);
/* append a reply "code text\r\n" made safe to send: the text is cut to
   SDU_SMTP_TEXT_MAX and made printable; a text that starts with its own code
   ("553 sorry") keeps it */
int sdu_smtp_fmtreply(stralloc *out, int code, const char *text);
/* the code a reply text starts with, or dflt */
int sdu_smtp_replycode(const char *text, int dflt);
/* the EHLO reply without the extensions a proxy cannot pass (STARTTLS,
   CHUNKING, BINARYMIME), continuation marks redone */
int sdu_smtp_ehlofilter(stralloc *out, const char *reply, size_t len);
/* the same, then STARTTLS (ours) offered last when starttls, the AUTH
   lines left out when noauth */
int sdu_smtp_ehloedit(stralloc *out, const char *reply, size_t len, int starttls, int noauth);

/* --- the responder: a link that answers the connection itself ------- */

typedef struct sdu_respond_cfg {
  const char *host;     /* name in the greeting and in 250 replies */
  const char *refusal;  /* e.g. "451 4.7.1 try again later" or "553 5.7.1 go away" */
  int atgreeting;       /* 1: send the refusal as greeting (a 421/554) and close */
  const char *greeted;  /* the greeting's first line "220-HOST" is out already
                           (rblcheck's pregreet watch): complete it with a 220
                           and give the refusal after it; 0 not */
  unsigned long timeout;      /* seconds for the whole session */
  unsigned long maxcommands;  /* commands answered before 421 and close */
  int fdin, fdout;
} sdu_respond_cfg;

void sdu_respond_defaults(sdu_respond_cfg *cfg);
/* answers the connection; returns when it is over (0, or 111 on I/O error) */
int sdu_respond(const sdu_respond_cfg *cfg);
/* the variable that says the greeting's first line "220-HOST ESMTP" was
   written (its value is HOST): a greeting written after it must be a 220 */
#define SDU_GREETED "RBLCHECK_GREETED"
/* TCP_NODELAY on fd when it is a TCP socket: each reply leaves at once */
void sdu_nodelay(int fd);

/* --- the proxy engine: a link in the middle ----------------------- */

typedef struct sdu_proxy sdu_proxy;

typedef struct sdu_cmd {
  int verb;
  const char *line; size_t len;  /* the line as the client sent it, no CRLF */
  const char *arg; size_t arglen; /* after the verb (and the blank after it) */
  unsigned long seq;             /* number of the command in the session */
} sdu_cmd;

enum { SDU_PASS, SDU_ANSWER, SDU_CLOSE, SDU_WAIT };

typedef struct sdu_hooks {
  void *ctx;
  /* a client command, in order; returns SDU_PASS, or SDU_ANSWER/SDU_CLOSE
     after sdu_proxy_answer(); SDU_CLOSE ends the session after that reply;
     SDU_WAIT: not yet: the proxy reads no further command and asks this
     hook again with the same command once every command before it has its
     reply (the links before it do not see it twice); with nothing in
     flight it is taken as SDU_PASS */
  int (*command)(void *ctx, sdu_proxy *p, const sdu_cmd *c);
  /* downstream's whole reply to what was passed on (greeting, commands,
     the end of data); called before the reply goes to the client */
  void (*reply)(void *ctx, sdu_proxy *p, const sdu_cmd *c, int code,
    const char *text, size_t len);
  /* the session is over */
  void (*end)(void *ctx, sdu_proxy *p);
} sdu_hooks;

typedef struct sdu_proxy_cfg {
  unsigned long idle;     /* seconds without a byte from either side */
  unsigned long session;  /* seconds for the whole session */
  unsigned long childwait; /* seconds to wait for downstream at the end */
  int fdin, fdout;        /* the client: 0 and 1 */
} sdu_proxy_cfg;

void sdu_proxy_defaults(sdu_proxy_cfg *cfg);
/* runs argv on pipes and relays; returns the exit code for main */
int sdu_proxy_run(char **argv, const sdu_proxy_cfg *cfg, const sdu_hooks *h);
/* the reply for SDU_ANSWER/SDU_CLOSE: "550 5.1.1 no such user" */
void sdu_proxy_answer(sdu_proxy *p, const char *reply);
/* header lines injected after every later 354 ("" for none); 0 = no memory */
int sdu_proxy_header(sdu_proxy *p, const char *lines);
/* 1 after downstream accepted AUTH: everything passes unchecked */
int sdu_proxy_authenticated(const sdu_proxy *p);
/* seconds since the epoch as the proxy last read the clock, once a turn
   of its loop (sdu_now_at): a hook's time without a reading of its own */
unsigned long long sdu_proxy_now(const sdu_proxy *p);

/* --- links in one process (sdu-chain(1)) ----------------------------
   sdu_proxy_run does not start the next program at once: when it is a link
   of this very binary, that link runs here (sdu_chain_inline), and only
   where the chain leaves the binary does one proxy start it, with the hooks
   of every link that wanted to stand in the middle, in chain order. What
   the client and the programs see is what a chain of processes gives. */

/* 1 while links of this process wait for the rest of the chain */
int sdu_proxy_pending(void);
/* run the waiting links with fn(arg) as downstream, in a child on pipes */
int sdu_proxy_runfn(int (*fn)(void *), void *arg);
/* the rest of the chain, argv, from here: a link of this binary runs in
   this process, waiting links get their session; returns the exit code,
   or -1 when argv is to be exec'd (nothing waits, not one of ours) */
int sdu_chain_next(char **argv);
/* forget the waiting links (a child that must not run them) */
void sdu_chain_forget(void);

/* the links of a multi-call binary */
typedef struct sdu_applet {
  const char *name;
  int (*run)(int argc, char **argv);
} sdu_applet;
/* main of the multi-call binary: run the link argv[0] names */
int sdu_chain_main(const sdu_applet *list, int argc, char **argv);
/* run argv[0] in this process if it is a link of this binary not yet run
   here, found as execvp would find it: its exit code, or -1 */
int sdu_chain_inline(char **argv);

#endif
