#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\nfuzz: %s:%d: property does not hold: %s\nfuzz: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

bool fuzz_utf8_ok(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned long cp;
		size_t len;

		if (u[i] < 0x80) {
			i++;
			continue;
		}
		if ((u[i] & 0xE0) == 0xC0) {
			len = 2;
			cp = u[i] & 0x1F;
		} else if ((u[i] & 0xF0) == 0xE0) {
			len = 3;
			cp = u[i] & 0x0F;
		} else if ((u[i] & 0xF8) == 0xF0) {
			len = 4;
			cp = u[i] & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((u[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (u[i + k] & 0x3F);
		}
		/* The shortest form only: each length has a smallest code point. */
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000))
			return false;
		if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return false;
		i += len;
	}
	return true;
}

char *fuzz_strndup(const uint8_t *data, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	if (n)
		memcpy(s, data, n);
	s[n] = '\0';
	return s;
}

void fuzz_split(const uint8_t *data, size_t n, uint8_t sep, const uint8_t **a, size_t *alen,
		const uint8_t **b, size_t *blen)
{
	const uint8_t *p = n ? memchr(data, sep, n) : NULL;

	*a = data;
	if (!p) {
		*alen = n;
		*b = NULL;
		*blen = 0;
		return;
	}
	*alen = (size_t)(p - data);
	*b = p + 1;
	*blen = n - *alen - 1;
}
