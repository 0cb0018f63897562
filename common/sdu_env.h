/* sdu_env.h: environment helpers and the exec of the next program in the chain */
#ifndef SDU_ENV_H
#define SDU_ENV_H

const char *sdu_env_get(const char *name);   /* 0 when unset */
int sdu_env_isset(const char *name);
int sdu_env_set(const char *name, const char *value); /* 1 ok, 0 no memory */
int sdu_env_unset(const char *name);
/* TCPREMOTEIP, or "unknown" */
const char *sdu_env_remoteip(void);

/* the name of the effective user from /etc/passwd ("alias"), else
   "uid N", in buf: for messages that say who could not open a file */
const char *sdu_whoami(char *buf, unsigned int max);

/* Exec argv[0] with PATH search. Never returns: "unable to run" is fatal 111.
   Call only when nothing has been read from fd 0 and fd 1 holds nothing of ours. */
void sdu_exec_next(char **argv);

#endif
