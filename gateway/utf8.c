/* UTF-8 validation per RFC 3629: no overlongs, no surrogates, nothing above
 * U+10FFFF. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/utf8.h"

/* Length of the valid sequence at s[0..avail), 0 if invalid, or -needed if the
 * bytes so far are a valid start of a sequence longer than avail. */
static int seq_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	int n;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* UTF-16 surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else
		return 0;
	for (int i = 1; i < n; i++) {
		if ((size_t)i >= avail)
			return -n;
		unsigned char b = s[i];
		if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
			return 0;
	}
	return n;
}

size_t gw_utf8_valid_prefix(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		int n = seq_len(u + i, len - i);
		if (n <= 0)
			break;
		i += (size_t)n;
	}
	return i;
}

char *gw_utf8_sanitize(const char *src, size_t len, size_t *hold)
{
	const unsigned char *u = (const unsigned char *)src;
	/* Worst case: every byte becomes the 3-byte U+FFFD. */
	char *out = malloc(len * 3 + 1);
	size_t i = 0, o = 0;

	if (!out)
		return NULL;
	if (hold)
		*hold = 0;
	while (i < len) {
		int n = seq_len(u + i, len - i);

		if (n < 0 && hold) {
			*hold = len - i;
			break;
		}
		if (n > 0 && !(n == 1 && u[i] == 0)) {
			memcpy(out + o, u + i, (size_t)n);
			o += (size_t)n;
			i += (size_t)n;
			continue;
		}
		memcpy(out + o, "\xEF\xBF\xBD", 3);
		o += 3;
		i++;
	}
	out[o] = '\0';
	return out;
}
