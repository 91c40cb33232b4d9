/* Turning arbitrary tool output into text that JSON can carry. Pure. */
#ifndef TOOLCELL_GATEWAY_UTF8_H
#define TOOLCELL_GATEWAY_UTF8_H

#include <stddef.h>

/* Returns a new NUL-terminated copy of src[0..len) (caller frees) that is valid
 * UTF-8 and contains no NUL: every invalid byte, and every NUL, becomes U+FFFD.
 * With `hold` non-NULL, a sequence cut short by the end of the buffer is left
 * out and its length (0..3) stored in *hold, so a streaming caller can carry it
 * over to the next chunk; with hold NULL it becomes U+FFFD. NULL on ENOMEM. */
char *gw_utf8_sanitize(const char *src, size_t len, size_t *hold);

/* Length of the longest prefix of s[0..len) that is valid UTF-8 and does not end
 * inside a sequence. */
size_t gw_utf8_valid_prefix(const char *s, size_t len);

#endif
