/* What the harnesses share: a property that does not hold aborts with a
 * message, so libFuzzer keeps the input as a crash, and a UTF-8 check written
 * independently of gateway/utf8.c, to judge it. */
#ifndef TOOLCELL_FUZZ_FUZZ_H
#define TOOLCELL_FUZZ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* libFuzzer's entry points (there is no header for them). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                         \
	} while (0)

/* Is s[0..n) UTF-8 as RFC 3629 defines it (shortest form, no surrogates,
 * nothing above U+10FFFF)? Decodes code points rather than matching byte
 * ranges, so it does not share a mistake with gateway/utf8.c. */
bool fuzz_utf8_ok(const char *s, size_t n);

/* A NUL-terminated copy of data[0..n) (NULs inside stay: C string functions
 * then see a prefix, as they would in the gateway). */
char *fuzz_strndup(const uint8_t *data, size_t n);

/* Splits data[0..n) at the first `sep`: *a is before it, *b after (NULL/0
 * when there is no separator). */
void fuzz_split(const uint8_t *data, size_t n, uint8_t sep, const uint8_t **a, size_t *alen,
		const uint8_t **b, size_t *blen);

#endif
