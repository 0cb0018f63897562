/* spamgrab_contact.h: the abuse contact of a host's network: DNS TXT zones, then abuse@ its registered domain */
#ifndef SPAMGRAB_CONTACT_H
#define SPAMGRAB_CONTACT_H

#include <stddef.h>
#include <stralloc.h>
#include "spamgrab_conf.h"
#include "spamgrab_parse.h"

/* the registered domain of host per the Public Suffix List (file, or
   libpsl's newest list when 0) into out: 1 found, 0 none (a public suffix,
   not a host name), -1 the list could not be loaded */
int sg_registered_domain(const char *pslfile, const char *host, char *out, size_t max);

/* the contact of the client: TXT lookups in c's zones ("<domain>.zone",
   "<reversed ip>.zone"), then abuse@ the registered domain of its reverse DNS
   (asked anew when c->ptr, else the name in our Received line; a reverse
   lookup that is not answered in time is a temporary failure when the
   contact needs the name; NXDOMAIN, no PTR record, REFUSED or SERVFAIL
   are a definite "no name", and the Received line's name serves).
   1 found: addr set, how says where from ("zone:NAME", "rfc2142");
   0 none (how says why); -1 a temporary failure (reason in err) */
int sg_contact(const sg_conf *c, const sg_client *cl, char *addr, size_t addrmax,
  char *how, size_t howmax, stralloc *err);

#endif
