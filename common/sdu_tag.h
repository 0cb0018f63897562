/* sdu_tag.h: the site key that signs rblcheck's tag, and the tag's MAC (HMAC-SHA-256, libsodium) */
#ifndef SDU_TAG_H
#define SDU_TAG_H

#include <stddef.h>
#include <stralloc.h>

#define SDU_TAG_KEY_BYTES 32   /* a key: 32 random bytes, 64 hex digits in the file */
#define SDU_TAG_KEYS_MAX 2     /* the first signs, every one verifies (key rollover) */
#define SDU_TAG_MAC_HEX 64     /* HMAC-SHA-256 in lower-case hex */

typedef struct sdu_tagkeys {
  unsigned int n;                                        /* keys read, 1..2 */
  unsigned char key[SDU_TAG_KEYS_MAX][SDU_TAG_KEY_BYTES];
} sdu_tagkeys;

/* the key file: one or two lines of 64 hex digits (blank lines and '#'
   comments allowed); 1 read; 0 bad format, "FILE line N: ..." in err;
   -1 unreadable, errno set, "unable to read FILE" in err */
int sdu_tagkeys_load(sdu_tagkeys *k, const char *file, stralloc *err);
/* the keys overwritten with zeros */
void sdu_tagkeys_wipe(sdu_tagkeys *k);

/* appends " mac=" and the MAC of fields[0..len) under the first key
   (fields may lie inside out: the MAC is made before out grows):
   1 done; 0 no memory; -1 the crypto library failed to start or no key */
int sdu_tag_sign(stralloc *out, const sdu_tagkeys *k, const char *fields, size_t len);

enum {
  SDU_TAG_OK = 0,      /* the MAC is right under key number *which (0 first) */
  SDU_TAG_NOMAC,       /* no " mac=" word at the end of the line */
  SDU_TAG_BADMAC,      /* a MAC that no key gives */
  SDU_TAG_FAIL = -1    /* the crypto library failed to start */
};
/* line: the tag's value as written, one physical line without its line end
   ("ip=... date=... mac=HEX"); the MAC is the last word and covers every
   byte before its blank. Returns one of the above. */
int sdu_tag_verify(const sdu_tagkeys *k, const char *line, size_t len, unsigned int *which);

#endif
