/* The subset of JSON Schema that toolcell enforces: keyword checks at manifest
 * load, and validation of tool arguments against the checked schema.
 *
 * Everything here is pure: no I/O, no global mutable state. Patterns are
 * ECMA-262 regexes in JSON Schema; they are translated to POSIX extended
 * regexes over UTF-8 bytes and compiled anew for each use, so no compiled
 * state can outlive the schema it came from. */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/json.h"
#include "gateway/schema.h"

/* Schemas nest at most this deep. Both walks recurse once per level, so the
 * bound is what keeps a hostile manifest from exhausting the stack. */
#define MAX_DEPTH 64

/* Values deeper than this are not compared for enum, const and uniqueItems;
 * the comparison fails closed instead of recursing without bound. */
#define EQ_MAX_DEPTH 128

/* Every double at or beyond 2^53 is an integer. */
#define EXACT_INT_LIMIT 9007199254740992.0

/* ------------------------------------------------------------------------ */
/* Bounded string building. */

/* Text built into a caller's fixed buffer. Whatever does not fit is dropped
 * and `cut` remembers it, so the result is always NUL-terminated. */
struct sbuf {
	char *buf;
	size_t cap; /* bytes in buf, including room for the NUL; at least 1 */
	size_t len;
	bool cut;
};

static void sb_init(struct sbuf *b, char *buf, size_t cap)
{
	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->cut = false;
	buf[0] = '\0';
}

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	size_t room = b->cap - 1 - b->len;

	if (n > room) {
		n = room;
		b->cut = true;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

static void sb_putc(struct sbuf *b, char c)
{
	sb_putn(b, &c, 1);
}

__attribute__((format(printf, 2, 0))) static void sb_vprintf(struct sbuf *b, const char *fmt,
							     va_list ap)
{
	size_t room = b->cap - b->len;
	int n = vsnprintf(b->buf + b->len, room, fmt, ap);

	if (n < 0) {
		b->buf[b->len] = '\0';
		b->cut = true;
	} else if ((size_t)n >= room) {
		b->len = b->cap - 1;
		b->cut = true;
	} else {
		b->len += (size_t)n;
	}
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vprintf(b, fmt, ap);
	va_end(ap);
}

/* The largest k <= n such that s[0..k) does not end inside a UTF-8
 * sequence: a last sequence that is incomplete in s[0..n) is dropped. */
static size_t utf8_floor(const char *s, size_t n)
{
	size_t lead = n, need;
	unsigned char c;

	while (lead > 0 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80)
		lead--;
	if (lead == 0)
		return 0;
	lead--;
	c = (unsigned char)s[lead];
	need = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
	return n - lead >= need ? n : lead;
}

/* Marks a cut message with "..." and never leaves half a UTF-8 sequence at
 * the end: the message travels to the client inside JSON, where invalid UTF-8
 * would make the whole response unreadable. */
static void sb_finish(struct sbuf *b)
{
	size_t keep;

	if (!b->cut)
		return;
	keep = b->len;
	if (b->cap > 4 && keep > b->cap - 4)
		keep = b->cap - 4;
	keep = utf8_floor(b->buf, keep);
	b->len = keep;
	b->buf[keep] = '\0';
	if (b->cap > 4)
		sb_puts(b, "...");
}

/* ------------------------------------------------------------------------ */
/* Numbers, strings and values. */

static bool is_integral(double d)
{
	if (!(d - d == 0))
		return false; /* infinite or NaN */
	if (d >= EXACT_INT_LIMIT || d <= -EXACT_INT_LIMIT)
		return true;
	return (double)(int64_t)d == d;
}

/* Prints a number as briefly as round-trips, so messages show "0.1" rather
 * than "0.10000000000000001" and "3" rather than "3.0". */
static void fmt_num(char out[32], double d)
{
	d += 0.0; /* makes -0 into 0, which would read as a typo in a message */
	if (is_integral(d) && d > -1e15 && d < 1e15) {
		snprintf(out, 32, "%.0f", d);
		return;
	}
	snprintf(out, 32, "%.15g", d);
	if (strtod(out, NULL) != d)
		snprintf(out, 32, "%.17g", d);
}

/* Counts code points of valid UTF-8: every byte that is not a continuation
 * byte starts one. JSON Schema lengths count characters, not bytes. */
static size_t utf8_count(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* Decodes one UTF-8 sequence from [p, end). Returns its length, or 0 when
 * the bytes are not valid UTF-8 (overlong forms and surrogates included). */
static size_t utf8_decode(const unsigned char *p, const unsigned char *end, uint32_t *cp)
{
	size_t n, i;
	uint32_t c = p[0], min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xC2 && c <= 0xDF) {
		n = 2, c &= 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3, c &= 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

/* Encodes cp (surrogates included, which the regex translation needs for
 * range arithmetic) and returns the length. */
static size_t utf8_encode(uint32_t cp, unsigned char out[4])
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	} else if (cp < 0x800) {
		out[0] = (unsigned char)(0xC0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	} else if (cp < 0x10000) {
		out[0] = (unsigned char)(0xE0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (unsigned char)(0xF0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

static const char *json_type_name(const cJSON *v)
{
	if (cJSON_IsObject(v))
		return "object";
	if (cJSON_IsArray(v))
		return "array";
	if (cJSON_IsString(v))
		return "string";
	if (cJSON_IsNumber(v))
		return "number";
	if (cJSON_IsBool(v))
		return "boolean";
	if (cJSON_IsNull(v))
		return "null";
	return "invalid";
}

/* Appends a string as a JSON string literal. */
static void put_json_string(struct sbuf *b, const char *s)
{
	sb_putc(b, '"');
	for (; *s && !b->cut; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			sb_putc(b, '\\');
			sb_putc(b, (char)c);
		} else if (c == '\n') {
			sb_puts(b, "\\n");
		} else if (c == '\t') {
			sb_puts(b, "\\t");
		} else if (c < 0x20 || c == 0x7F) {
			sb_printf(b, "\\u%04x", c);
		} else {
			sb_putc(b, (char)c);
		}
	}
	sb_putc(b, '"');
}

/* Appends a value as compact JSON for a message; deep values are elided. */
static void put_json_value(struct sbuf *b, const cJSON *v, unsigned depth)
{
	const cJSON *e;
	char num[32];
	bool first = true;

	if (cJSON_IsString(v)) {
		put_json_string(b, v->valuestring);
	} else if (cJSON_IsNumber(v)) {
		fmt_num(num, v->valuedouble);
		sb_puts(b, num);
	} else if (cJSON_IsBool(v)) {
		sb_puts(b, cJSON_IsTrue(v) ? "true" : "false");
	} else if (cJSON_IsNull(v)) {
		sb_puts(b, "null");
	} else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
		bool obj = cJSON_IsObject(v);

		if (depth >= 4 && v->child) {
			sb_puts(b, obj ? "{...}" : "[...]");
			return;
		}
		sb_putc(b, obj ? '{' : '[');
		cJSON_ArrayForEach(e, v)
		{
			if (b->cut)
				return;
			if (!first)
				sb_putc(b, ',');
			first = false;
			if (obj) {
				put_json_string(b, e->string ? e->string : "");
				sb_putc(b, ':');
			}
			put_json_value(b, e, depth + 1);
		}
		sb_putc(b, obj ? '}' : ']');
	} else {
		sb_puts(b, "?");
	}
}

/* Mixes 64 bits (the splitmix64 finalizer). */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return mix64(h);
}

/* A hash consistent with values_equal: equal values hash equally (numbers
 * by value, objects regardless of member order). Past EQ_MAX_DEPTH the hash
 * stops looking; values_equal decides those cases. */
static uint64_t hash_value(const cJSON *v, unsigned depth)
{
	uint64_t h = (uint64_t)(v->type & 0xFF);
	const cJSON *e;

	if (depth > EQ_MAX_DEPTH)
		return mix64(h);
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble == 0 ? 0 : v->valuedouble;
		uint64_t bits;

		memcpy(&bits, &d, sizeof(bits));
		h ^= bits;
	} else if (cJSON_IsString(v)) {
		h ^= hash_str(v->valuestring);
	} else if (cJSON_IsArray(v)) {
		cJSON_ArrayForEach(e, v)
		{
			h = mix64(h * 31 + hash_value(e, depth + 1));
		}
	} else if (cJSON_IsObject(v)) {
		/* A sum does not depend on member order, as object equality does not. */
		cJSON_ArrayForEach(e, v)
		{
			h += mix64(hash_str(e->string ? e->string : "") ^ hash_value(e, depth + 1));
		}
	}
	return mix64(h);
}

/* JSON equality as JSON Schema defines it: numbers by mathematical value (1
 * equals 1.0), objects regardless of member order. Written here rather than
 * using cJSON_Compare, which compares numbers with a tolerance. Returns 1 if
 * equal, 0 if not, -ELOOP if the values nest too deeply to decide. */
static int values_equal(const cJSON *a, const cJSON *b, unsigned depth)
{
	const cJSON *x, *y;
	int rc;

	if (depth > EQ_MAX_DEPTH)
		return -ELOOP;
	if ((a->type & 0xFF) != (b->type & 0xFF))
		return 0;
	if (cJSON_IsNumber(a))
		return a->valuedouble == b->valuedouble;
	if (cJSON_IsString(a))
		return strcmp(a->valuestring, b->valuestring) == 0;
	if (cJSON_IsArray(a)) {
		for (x = a->child, y = b->child; x && y; x = x->next, y = y->next) {
			rc = values_equal(x, y, depth + 1);
			if (rc <= 0)
				return rc;
		}
		return !x && !y;
	}
	if (cJSON_IsObject(a)) {
		if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
			return 0;
		cJSON_ArrayForEach(x, a)
		{
			y = x->string ? cJSON_GetObjectItemCaseSensitive(b, x->string) : NULL;
			if (!y)
				return 0;
			rc = values_equal(x, y, depth + 1);
			if (rc <= 0)
				return rc;
		}
		return 1;
	}
	/* true, false, null: equal types are equal values. Nothing else
	 * comes from the parser; if it did, it would equal nothing. */
	return cJSON_IsBool(a) || cJSON_IsNull(a);
}

/* ------------------------------------------------------------------------ */
/* Types. */

enum {
	T_OBJECT = 1 << 0,
	T_STRING = 1 << 1,
	T_INTEGER = 1 << 2,
	T_NUMBER = 1 << 3,
	T_BOOLEAN = 1 << 4,
	T_ARRAY = 1 << 5,
	T_NULL = 1 << 6,
};

static const struct {
	const char *name, *phrase;
	unsigned bit;
} types[] = {
    {"object", "an object", T_OBJECT},
    {"string", "a string", T_STRING},
    {"integer", "an integer", T_INTEGER},
    {"number", "a number", T_NUMBER},
    {"boolean", "a boolean", T_BOOLEAN},
    {"array", "an array", T_ARRAY},
    {"null", "null", T_NULL},
};

#define NTYPES (sizeof(types) / sizeof(types[0]))

static unsigned type_bit(const char *name)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (strcmp(types[i].name, name) == 0)
			return types[i].bit;
	return 0;
}

/* The types a value belongs to: an integral number is also an integer. */
static unsigned value_types(const cJSON *v)
{
	if (cJSON_IsObject(v))
		return T_OBJECT;
	if (cJSON_IsString(v))
		return T_STRING;
	if (cJSON_IsNumber(v))
		return T_NUMBER | (is_integral(v->valuedouble) ? T_INTEGER : 0);
	if (cJSON_IsBool(v))
		return T_BOOLEAN;
	if (cJSON_IsArray(v))
		return T_ARRAY;
	if (cJSON_IsNull(v))
		return T_NULL;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Patterns: ECMA-262 to POSIX ERE.
 *
 * The translation is exact or refused. The ERE works on UTF-8 bytes in the C
 * locale: every character class becomes the UTF-8 byte sequences of its code
 * points, so "." and "[^a]" match one whole character as ECMA's "u" mode does,
 * and a multi-byte literal is grouped so a quantifier repeats all of it.
 * Lookaround and backreferences have no ERE equivalent and are refused. Lazy
 * quantifiers are kept as greedy ones: a pattern is only ever asked whether it
 * matches somewhere, and laziness changes which match is found, never whether
 * one exists. */

/* A set of code points: sorted, disjoint, non-adjacent ranges. */
#define CSET_MAX 128
struct cset {
	size_t n;
	uint32_t lo[CSET_MAX], hi[CSET_MAX];
};

#define CP_MAX 0x10FFFFu

/* Adds [lo, hi], merging with what it overlaps or touches. Returns -E2BIG
 * when the set has no room for another range. */
static int cset_add(struct cset *s, uint32_t lo, uint32_t hi)
{
	size_t i = 0, j;

	while (i < s->n && s->hi[i] + 1 < lo)
		i++;
	for (j = i; j < s->n && s->lo[j] <= hi + 1; j++) {
		lo = s->lo[j] < lo ? s->lo[j] : lo;
		hi = s->hi[j] > hi ? s->hi[j] : hi;
	}
	if (j == i) {
		if (s->n == CSET_MAX)
			return -E2BIG;
		memmove(s->lo + i + 1, s->lo + i, (s->n - i) * sizeof(s->lo[0]));
		memmove(s->hi + i + 1, s->hi + i, (s->n - i) * sizeof(s->hi[0]));
		s->n++;
	} else if (j > i + 1) {
		memmove(s->lo + i + 1, s->lo + j, (s->n - j) * sizeof(s->lo[0]));
		memmove(s->hi + i + 1, s->hi + j, (s->n - j) * sizeof(s->hi[0]));
		s->n -= j - i - 1;
	}
	s->lo[i] = lo;
	s->hi[i] = hi;
	return 0;
}

/* Complements within [1, CP_MAX]: U+0000 cannot occur in a checked string.
 * Returns -E2BIG when the complement has one range too many. */
static int cset_invert(struct cset *s)
{
	struct cset t = {0};
	uint32_t next = 1;

	for (size_t i = 0; i < s->n; i++) {
		if (s->lo[i] > next) {
			if (t.n == CSET_MAX)
				return -E2BIG;
			t.lo[t.n] = next;
			t.hi[t.n] = s->lo[i] - 1;
			t.n++;
		}
		next = s->hi[i] + 1;
	}
	if (next <= CP_MAX) {
		if (t.n == CSET_MAX)
			return -E2BIG;
		t.lo[t.n] = next;
		t.hi[t.n] = CP_MAX;
		t.n++;
	}
	*s = t;
	return 0;
}

/* Adds an ECMA class escape: d, w, s or their negations D, W, S. \d and \w
 * are ASCII-only in ECMA; \s is ECMA's WhiteSpace and LineTerminator list. */
static int cset_add_class(struct cset *s, char cls)
{
	static const uint32_t digit[][2] = {{'0', '9'}};
	static const uint32_t word[][2] = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
	static const uint32_t space[][2] = {
	    {0x09, 0x0D},     {0x20, 0x20},	{0xA0, 0xA0},	  {0x1680, 0x1680},
	    {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F},
	    {0x3000, 0x3000}, {0xFEFF, 0xFEFF},
	};
	const uint32_t(*r)[2];
	size_t n;
	struct cset t = {0};
	int rc;

	switch (cls | 0x20) {
	case 'd':
		r = digit, n = sizeof(digit) / sizeof(digit[0]);
		break;
	case 'w':
		r = word, n = sizeof(word) / sizeof(word[0]);
		break;
	default:
		r = space, n = sizeof(space) / sizeof(space[0]);
		break;
	}
	for (size_t i = 0; i < n; i++)
		(void)cset_add(&t, r[i][0], r[i][1]);
	if (cls >= 'A' && cls <= 'Z')
		(void)cset_invert(&t); /* at most 11 ranges */
	for (size_t i = 0; i < t.n; i++) {
		rc = cset_add(s, t.lo[i], t.hi[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The ERE a pattern may grow to once glibc has copied every counted repeat,
 * and the largest count of one repeat. glibc's matcher runs all states in
 * step, without backtracking, so its time is linear in the string but grows
 * with the expanded size, and faster still with the count of an optional
 * repeat ("{1,3000}" takes most of a second on a short string). The bounds
 * keep one check in the milliseconds; lengths belong in maxLength. */
#define RE_MAX_COST 20000
#define RE_MAX_REPEAT 1000

/* Matching costs about a nanosecond per byte of string per byte of expanded
 * ERE (measured with glibc 2.36), so a string is matched only if its length
 * times the expanded size stays under this: about a quarter second at worst.
 * A small pattern still takes strings of megabytes. */
#define RE_MAX_WORK ((size_t)1 << 27)
#define RE_MAX_GROUPS 32

struct re_tr {
	const unsigned char *p, *end;
	char *out; /* the ERE, malloc'd */
	size_t len, cap;
	struct sbuf *err;
	unsigned depth;			/* open groups */
	size_t cost[RE_MAX_GROUPS + 1]; /* expanded size of each open group */
	size_t total;			/* expanded size of the whole ERE */
	size_t atom;			/* size of the last atom; 0: nothing to repeat */
};

__attribute__((format(printf, 2, 3))) static int re_unsupported(struct re_tr *t, const char *fmt,
								...)
{
	va_list ap;

	sb_puts(t->err, "pattern uses ");
	va_start(ap, fmt);
	sb_vprintf(t->err, fmt, ap);
	va_end(ap);
	sb_puts(t->err, ", which toolcell cannot enforce");
	return -EINVAL;
}

static int re_invalid(struct re_tr *t, const char *what)
{
	sb_printf(t->err, "pattern is not a valid regular expression: %s", what);
	return -EINVAL;
}

static int re_too_complex(struct re_tr *t)
{
	sb_printf(t->err,
		  "pattern is too complex for toolcell (over %d bytes once repeats are expanded); "
		  "use minLength/maxLength for lengths",
		  RE_MAX_COST);
	return -EINVAL;
}

static int re_emitn(struct re_tr *t, const char *s, size_t n)
{
	if (t->total + n > RE_MAX_COST)
		return re_too_complex(t);
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		char *p;

		while (cap < t->len + n + 1)
			cap *= 2;
		p = realloc(t->out, cap);
		if (!p) {
			sb_puts(t->err, "out of memory");
			return -ENOMEM;
		}
		t->out = p;
		t->cap = cap;
	}
	memcpy(t->out + t->len, s, n);
	t->len += n;
	t->out[t->len] = '\0';
	t->cost[t->depth] += n;
	t->total += n;
	return 0;
}

static int re_emit(struct re_tr *t, const char *s)
{
	return re_emitn(t, s, strlen(s));
}

static int re_emit_byte(struct re_tr *t, unsigned char c)
{
	return re_emitn(t, (const char *)&c, 1);
}

/* One code point as an ERE atom. A multi-byte character is grouped so that a
 * following quantifier repeats the whole character, not its last byte. */
static int re_emit_literal(struct re_tr *t, uint32_t cp)
{
	unsigned char u[4];
	size_t n;
	int rc;

	if (cp < 0x80) {
		if (strchr(".[\\()*+?{|^$", (int)cp) && (rc = re_emit_byte(t, '\\')) < 0)
			return rc;
		return re_emit_byte(t, (unsigned char)cp);
	}
	n = utf8_encode(cp, u);
	if ((rc = re_emit(t, "(")) < 0 || (rc = re_emitn(t, (const char *)u, n)) < 0)
		return rc;
	return re_emit(t, ")");
}

/* The ASCII members of a set as one bracket expression. POSIX gives ']', '-',
 * '^' and '[' meaning by position, so they are pulled out of the ranges and
 * placed where they are plain: ']' first, '^' not first, '[' where no ':', '.'
 * or '=' follows, '-' last. */
static int re_emit_ascii(struct re_tr *t, const struct cset *s)
{
	bool in[128] = {false}, rb, lb, caret, dash;
	size_t count = 0;
	uint32_t c, last = 0;
	int rc;

	for (size_t i = 0; i < s->n && s->lo[i] < 0x80; i++) {
		for (c = s->lo[i]; c <= s->hi[i] && c < 0x80; c++) {
			in[c] = true;
			count++;
			last = c;
		}
	}
	if (count == 1)
		return re_emit_literal(t, last);
	rb = in[']'], lb = in['['], caret = in['^'], dash = in['-'];
	in[']'] = in['['] = in['^'] = in['-'] = false;
	if (count == (size_t)caret + dash) /* just "^" and "-" */
		return re_emit(t, "[-^]");
	if ((rc = re_emit(t, rb ? "[]" : "[")) < 0)
		return rc;
	for (c = 1; c < 0x80; c++) {
		uint32_t end = c;

		if (!in[c])
			continue;
		while (end + 1 < 0x80 && in[end + 1])
			end++;
		if ((rc = re_emit_byte(t, (unsigned char)c)) < 0)
			return rc;
		if (end > c + 1 && (rc = re_emit_byte(t, '-')) < 0)
			return rc;
		if (end > c && (rc = re_emit_byte(t, (unsigned char)end)) < 0)
			return rc;
		c = end;
	}
	if (lb && (rc = re_emit(t, "[")) < 0)
		return rc;
	if (caret && (rc = re_emit(t, "^")) < 0)
		return rc;
	if (dash && (rc = re_emit(t, "-")) < 0)
		return rc;
	return re_emit(t, "]");
}

/* Emits the UTF-8 encodings of [lo, hi] (lo >= 0x80) as alternatives of
 * byte-range sequences. Ranges are split until, in each piece, every byte
 * position ranges independently of the others; then one sequence of byte
 * ranges matches exactly the encodings of that piece. */
static int re_emit_utf8_range(struct re_tr *t, uint32_t lo, uint32_t hi, bool *first)
{
	static const uint32_t top[] = {0x7FF, 0xFFFF};
	unsigned char a[4] = {0}, b[4] = {0};
	size_t n;
	int rc;

	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		if (lo <= top[i] && hi > top[i]) {
			rc = re_emit_utf8_range(t, lo, top[i], first);
			return rc < 0 ? rc : re_emit_utf8_range(t, top[i] + 1, hi, first);
		}
	}
	n = utf8_encode(lo, a);
	for (size_t k = 1; k < n; k++) {
		uint32_t m = (1u << (6 * k)) - 1;

		if ((lo & ~m) == (hi & ~m))
			continue;
		if ((lo & m) != 0) {
			rc = re_emit_utf8_range(t, lo, lo | m, first);
			return rc < 0 ? rc : re_emit_utf8_range(t, (lo | m) + 1, hi, first);
		}
		if ((hi & m) != m) {
			rc = re_emit_utf8_range(t, lo, (hi & ~m) - 1, first);
			return rc < 0 ? rc : re_emit_utf8_range(t, hi & ~m, hi, first);
		}
	}
	(void)utf8_encode(hi, b);
	if (!*first && (rc = re_emit(t, "|")) < 0)
		return rc;
	*first = false;
	for (size_t k = 0; k < n; k++) {
		if (a[k] == b[k]) {
			rc = re_emit_byte(t, a[k]);
		} else {
			char br[5] = {'[', (char)a[k], '-', (char)b[k], ']'};

			rc = re_emitn(t, br, sizeof(br));
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* A set of code points as one ERE atom. */
static int re_emit_set(struct re_tr *t, const struct cset *s)
{
	bool first = true;
	int rc;

	if (s->n == 0) /* ECMA's "[]": no character matches; no byte either */
		return re_emit(t, "[^\x01-\xff]");
	if (s->n == 1 && s->lo[0] == s->hi[0])
		return re_emit_literal(t, s->lo[0]);
	if (s->hi[s->n - 1] < 0x80)
		return re_emit_ascii(t, s);
	if ((rc = re_emit(t, "(")) < 0)
		return rc;
	if (s->lo[0] < 0x80) {
		if ((rc = re_emit_ascii(t, s)) < 0)
			return rc;
		first = false;
	}
	for (size_t i = 0; i < s->n; i++) {
		uint32_t lo = s->lo[i] < 0x80 ? 0x80 : s->lo[i];

		if (s->hi[i] >= 0x80 && (rc = re_emit_utf8_range(t, lo, s->hi[i], &first)) < 0)
			return rc;
	}
	return re_emit(t, ")");
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* Reads exactly n hex digits at t->p. */
static int re_hex(struct re_tr *t, size_t n, uint32_t *out)
{
	uint32_t v = 0;

	if ((size_t)(t->end - t->p) < n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int h = hexval(t->p[i]);

		if (h < 0)
			return -1;
		v = v << 4 | (uint32_t)h;
	}
	t->p += n;
	*out = v;
	return 0;
}

/* Reads the \u escape after "\u": \uHHHH (a surrogate pair as two of them)
 * or \u{H...}. */
static int re_unicode_escape(struct re_tr *t, uint32_t *cp)
{
	const unsigned char *digits;
	uint32_t v, lo;

	if (t->p < t->end && *t->p == '{') {
		v = 0;
		digits = ++t->p;
		while (t->p < t->end && hexval(*t->p) >= 0 && v <= CP_MAX)
			v = v << 4 | (uint32_t)hexval(*t->p++);
		if (t->p == digits || t->p >= t->end || *t->p != '}' || v > CP_MAX)
			return re_invalid(t, "malformed \\u{...} escape");
		t->p++;
	} else if (re_hex(t, 4, &v) < 0) {
		return re_invalid(t, "\\u needs four hex digits");
	}
	if (v >= 0xD800 && v <= 0xDBFF && t->end - t->p >= 6 && t->p[0] == '\\' && t->p[1] == 'u') {
		const unsigned char *save = t->p;

		t->p += 2;
		if (re_hex(t, 4, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF)
			v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
		else
			t->p = save;
	}
	/* A lone surrogate never survives into a checked string (the JSON
	 * parser turns it into U+FFFD), so ECMA and toolcell would disagree. */
	if (v >= 0xD800 && v <= 0xDFFF)
		return re_unsupported(t, "a lone surrogate \"\\u%04X\"", (unsigned)v);
	if (v == 0)
		return re_unsupported(t, "a NUL escape");
	*cp = v;
	return 0;
}

/* Reads the escape after a backslash at t->p. A class escape (\d \D \w \W
 * \s \S) sets *cls to its letter; anything else is one code point in *cp. */
static int re_escape(struct re_tr *t, bool in_class, uint32_t *cp, char *cls)
{
	unsigned char c;
	uint32_t v;
	size_t n;

	*cls = 0;
	*cp = 0;
	if (t->p >= t->end)
		return re_invalid(t, "it ends with a lone backslash");
	c = *t->p++;
	switch (c) {
	case 'd':
	case 'D':
	case 'w':
	case 'W':
	case 's':
	case 'S':
		*cls = (char)c;
		return 0;
	case 't':
		*cp = '\t';
		return 0;
	case 'n':
		*cp = '\n';
		return 0;
	case 'v':
		*cp = '\v';
		return 0;
	case 'f':
		*cp = '\f';
		return 0;
	case 'r':
		*cp = '\r';
		return 0;
	case 'b':
		if (in_class) { /* [\b] is a backspace */
			*cp = '\b';
			return 0;
		}
		return re_unsupported(t, "a word boundary \"\\b\"");
	case 'B':
		return re_unsupported(t, "a word boundary \"\\B\"");
	case 'c':
		if (t->p < t->end && ((*t->p | 0x20) >= 'a' && (*t->p | 0x20) <= 'z')) {
			*cp = *t->p++ & 0x1F;
			return 0;
		}
		return re_invalid(t, "\\c must be followed by a letter");
	case 'x':
		if (re_hex(t, 2, &v) < 0)
			return re_invalid(t, "\\x needs two hex digits");
		if (v == 0)
			return re_unsupported(t, "a NUL escape");
		*cp = v;
		return 0;
	case 'u':
		return re_unicode_escape(t, cp);
	case '0':
		return re_unsupported(t, "a NUL escape \"\\0\"");
	case 'k':
		return re_unsupported(t, "a named backreference \"\\k\"");
	case 'p':
	case 'P':
		return re_unsupported(t, "a Unicode property escape \"\\%c\"", c);
	default:
		break;
	}
	if (c >= '1' && c <= '9')
		return re_unsupported(t, "a backreference \"\\%c\"", c);
	if (c >= 0x80) {
		n = utf8_decode(t->p - 1, t->end, cp);
		if (n == 0)
			return re_invalid(t, "it is not valid UTF-8");
		t->p += n - 1;
		return 0;
	}
	/* ECMA escapes punctuation to make it literal. A letter or digit with
	 * a backslash means something in other dialects (\A, \z, \h, ...);
	 * taking it as the plain letter would silently change the pattern. */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c < 0x20 || c == 0x7F) {
		char rep[5];
		return re_unsupported(t, "the escape \"\\%s\"", gw_byte_repr((unsigned char)c, rep));
	}
	*cp = c;
	return 0;
}

/* Reads one member of a character class: a code point or a class escape. */
static int re_class_atom(struct re_tr *t, uint32_t *cp, char *cls)
{
	size_t n;

	*cls = 0;
	*cp = 0;
	if (*t->p == '\\') {
		t->p++;
		return re_escape(t, true, cp, cls);
	}
	/* "[[:alpha:]]" is a POSIX class, but in ECMA it is the set of '[', ':',
	 * 'a', ... followed by a literal ']'. Refuse rather than guess. */
	if (*t->p == '[' && t->end - t->p > 1 && t->p[1] == ':') {
		sb_puts(t->err, "pattern uses POSIX class syntax \"[:\" inside [...], which JSON "
				"Schema (ECMA-262) patterns do not have; write e.g. [a-z] or \\d");
		return -EINVAL;
	}
	n = utf8_decode(t->p, t->end, cp);
	if (n == 0)
		return re_invalid(t, "it is not valid UTF-8");
	t->p += n;
	return 0;
}

static int re_class_full(struct re_tr *t)
{
	sb_printf(t->err, "pattern has a character class of more than %d ranges", CSET_MAX);
	return -EINVAL;
}

static int re_class_add(struct re_tr *t, struct cset *s, uint32_t cp, char cls)
{
	int rc = cls ? cset_add_class(s, cls) : cset_add(s, cp, cp);

	return rc < 0 ? re_class_full(t) : 0;
}

/* Reads a class after its '['. In ECMA a ']' always closes the class (an
 * empty "[]" matches nothing) and a '-' next to a class escape is literal. */
static int re_class(struct re_tr *t, struct cset *s)
{
	bool neg = false;
	uint32_t a, b;
	char acls, bcls;
	int rc;

	s->n = 0;
	if (t->p < t->end && *t->p == '^') {
		neg = true;
		t->p++;
	}
	for (;;) {
		if (t->p >= t->end)
			return re_invalid(t, "unterminated character class");
		if (*t->p == ']') {
			t->p++;
			break;
		}
		if ((rc = re_class_atom(t, &a, &acls)) < 0)
			return rc;
		if (t->end - t->p >= 2 && t->p[0] == '-' && t->p[1] != ']') {
			t->p++;
			if ((rc = re_class_atom(t, &b, &bcls)) < 0)
				return rc;
			if (acls || bcls) {
				if ((rc = re_class_add(t, s, a, acls)) < 0 ||
				    (rc = re_class_add(t, s, '-', 0)) < 0 ||
				    (rc = re_class_add(t, s, b, bcls)) < 0)
					return rc;
				continue;
			}
			if (a > b)
				return re_invalid(t, "range out of order in character class");
			if (cset_add(s, a, b) < 0)
				return re_class_full(t);
			continue;
		}
		if ((rc = re_class_add(t, s, a, acls)) < 0)
			return rc;
	}
	if (neg && cset_invert(s) < 0)
		return re_class_full(t);
	return 0;
}

/* Reads decimal digits at *q into *v (saturating well above any count the
 * cost bound allows). Returns false if there are none. */
static bool re_digits(const unsigned char **q, const unsigned char *end, unsigned long *v)
{
	const unsigned char *p = *q;

	*v = 0;
	for (; p < end && *p >= '0' && *p <= '9'; p++)
		if (*v < 1000000)
			*v = *v * 10 + (unsigned long)(*p - '0');
	if (p == *q)
		return false;
	*q = p;
	return true;
}

/* Parses a braced quantifier at t->p ('{'): {n}, {n,} (*max = ULONG_MAX) or
 * {n,m}. Returns false, consuming nothing, when the text is not one: ECMA
 * (Annex B) then reads the '{' as a literal. */
static bool re_braces(struct re_tr *t, unsigned long *min, unsigned long *max)
{
	const unsigned char *q = t->p + 1;

	if (!re_digits(&q, t->end, min))
		return false;
	*max = *min;
	if (q < t->end && *q == ',') {
		q++;
		if (!re_digits(&q, t->end, max))
			*max = ULONG_MAX;
	}
	if (q >= t->end || *q != '}')
		return false;
	t->p = q + 1;
	return true;
}

static int re_quantifier(struct re_tr *t, const char *text, unsigned long copies)
{
	size_t atom = t->atom, extra;
	int rc;

	if (atom == 0)
		return re_invalid(t, "a quantifier has nothing to repeat");
	if ((rc = re_emit(t, text)) < 0)
		return rc;
	/* glibc copies the atom once per count; charge the copies. */
	if (copies > 1) {
		if (atom > (RE_MAX_COST - t->total) / (copies - 1))
			return re_too_complex(t);
		extra = atom * (copies - 1);
		t->cost[t->depth] += extra;
		t->total += extra;
	}
	t->atom = 0;
	/* A lazy quantifier matches the same strings (see above). */
	if (t->p < t->end && *t->p == '?')
		t->p++;
	return 0;
}

static int re_group_open(struct re_tr *t)
{
	const unsigned char *q;

	/* t->p is past '('. */
	if (t->p < t->end && *t->p == '?') {
		if (t->end - t->p >= 2 && t->p[1] == ':') {
			t->p += 2;
		} else if (t->end - t->p >= 2 && (t->p[1] == '=' || t->p[1] == '!')) {
			return re_unsupported(t, "a lookahead \"(?%c\"", t->p[1]);
		} else if (t->end - t->p >= 3 && t->p[1] == '<' &&
			   (t->p[2] == '=' || t->p[2] == '!')) {
			return re_unsupported(t, "a lookbehind \"(?<%c\"", t->p[2]);
		} else if (t->end - t->p >= 2 && t->p[1] == '<') {
			/* A named group is a plain group here: nothing can refer
			 * to it, since backreferences are refused. */
			for (q = t->p + 2; q < t->end && *q != '>'; q++)
				if (!((*q | 0x20) >= 'a' && (*q | 0x20) <= 'z') && *q != '_' &&
				    *q != '$' && !(q > t->p + 2 && *q >= '0' && *q <= '9'))
					break;
			if (q >= t->end || *q != '>' || q == t->p + 2)
				return re_invalid(t, "malformed group name");
			t->p = q + 1;
		} else if (t->end - t->p >= 2) {
			/* One byte of the pattern: escaped, so the message stays
			 * valid UTF-8 and prints no control bytes. */
			char rep[5];
			return re_unsupported(t, "the group modifier \"(?%s\"",
					      gw_byte_repr((unsigned char)t->p[1], rep));
		} else {
			return re_invalid(t, "unterminated group");
		}
	}
	if (t->depth == RE_MAX_GROUPS)
		return re_unsupported(t, "groups nested more than %d deep", RE_MAX_GROUPS);
	t->depth++;
	t->cost[t->depth] = 0;
	t->atom = 0;
	return re_emit(t, "(");
}

static int re_group_close(struct re_tr *t)
{
	size_t inner;
	int rc;

	if (t->depth == 0)
		return re_invalid(t, "unmatched ')'");
	if ((rc = re_emit(t, ")")) < 0)
		return rc;
	inner = t->cost[t->depth];
	t->depth--;
	t->cost[t->depth] += inner;
	t->atom = inner;
	return 0;
}

/* Reads a braced quantifier at t->p, or a literal '{' when the text is not
 * one, as ECMA (Annex B) reads it. */
static int re_brace(struct re_tr *t)
{
	unsigned long min, max;
	size_t start = t->total;
	char q[48];
	int rc;

	if (!re_braces(t, &min, &max)) {
		t->p++;
		rc = re_emit_literal(t, '{');
		t->atom = t->total - start;
		return rc;
	}
	if (max != ULONG_MAX && min > max)
		return re_invalid(t, "numbers out of order in {} quantifier");
	if (min > RE_MAX_REPEAT || (max != ULONG_MAX && max > RE_MAX_REPEAT)) {
		sb_printf(t->err,
			  "pattern repeats up to %lu times; toolcell allows at most %d (use "
			  "minLength/maxLength for lengths)",
			  max != ULONG_MAX ? max : min, RE_MAX_REPEAT);
		return -EINVAL;
	}
	if (max == ULONG_MAX)
		snprintf(q, sizeof(q), "{%lu,}", min);
	else
		snprintf(q, sizeof(q), "{%lu,%lu}", min, max);
	return re_quantifier(t, q, max == ULONG_MAX ? min + 1 : max);
}

/* Reads one atom that stands for characters: a class, '.', an escape or a
 * literal. */
static int re_atom(struct re_tr *t)
{
	struct cset set;
	size_t start = t->total, n;
	uint32_t cp;
	char cls;
	int rc;

	set.n = 0;
	switch (*t->p) {
	case '[':
		t->p++;
		rc = re_class(t, &set);
		if (rc == 0)
			rc = re_emit_set(t, &set);
		break;
	case '.':
		/* ECMA's dot matches anything but a line terminator. */
		t->p++;
		(void)cset_add(&set, '\n', '\n');
		(void)cset_add(&set, '\r', '\r');
		(void)cset_add(&set, 0x2028, 0x2029);
		(void)cset_invert(&set);
		rc = re_emit_set(t, &set);
		break;
	case '\\':
		t->p++;
		rc = re_escape(t, false, &cp, &cls);
		if (rc == 0 && cls) {
			(void)cset_add_class(&set, cls);
			rc = re_emit_set(t, &set);
		} else if (rc == 0) {
			rc = re_emit_literal(t, cp);
		}
		break;
	default:
		n = utf8_decode(t->p, t->end, &cp);
		if (n == 0)
			return re_invalid(t, "it is not valid UTF-8");
		t->p += n;
		rc = re_emit_literal(t, cp);
		break;
	}
	t->atom = t->total - start;
	return rc;
}

/* Translates an ECMA-262 pattern into an ERE. Returns 0, a malloc'd *ere
 * (the caller frees it) and its expanded size in *cost, or -EINVAL/-ENOMEM
 * with a message in err. */
static int re_translate(const char *pattern, char **ere, size_t *cost, struct sbuf *err)
{
	struct re_tr t = {0};
	char q[2] = {0};
	int rc;

	t.p = (const unsigned char *)pattern;
	t.end = t.p + strlen(pattern);
	t.err = err;
	if ((rc = re_emit(&t, "")) < 0) /* allocates, so an empty pattern works */
		goto out;
	while (t.p < t.end) {
		switch (*t.p) {
		case '^':
		case '$':
		case '|':
			/* Assertions and alternation are the same in both. */
			q[0] = (char)*t.p++;
			rc = re_emit(&t, q);
			t.atom = 0;
			break;
		case '(':
			t.p++;
			rc = re_group_open(&t);
			break;
		case ')':
			t.p++;
			rc = re_group_close(&t);
			break;
		case '*':
		case '+':
		case '?':
			q[0] = (char)*t.p++;
			rc = re_quantifier(&t, q, q[0] == '+' ? 2 : 1);
			break;
		case '{':
			rc = re_brace(&t);
			break;
		default:
			rc = re_atom(&t);
			break;
		}
		if (rc < 0)
			goto out;
	}
	if (t.depth > 0) {
		rc = re_invalid(&t, "unterminated group");
		goto out;
	}
	*ere = t.out;
	*cost = t.total > 0 ? t.total : 1;
	t.out = NULL;
out:
	free(t.out);
	return rc;
}

/* Translates and compiles pattern and, when subject is not NULL, tests it
 * for a match anywhere in subject (ECMA's RegExp.prototype.test). Both run in
 * the C locale whatever the process locale is: the translation emits UTF-8
 * bytes, which a multi-byte locale would read differently. Returns 0 and sets
 * *matched; -E2BIG with the longest subject (in bytes) this pattern may be
 * matched against in *limit; or -EINVAL/-ENOMEM with a message in err. */
static int pattern_test(const char *pattern, const char *subject, bool *matched, size_t *limit,
			struct sbuf *err)
{
	char *ere = NULL;
	locale_t c_locale, old;
	regex_t re;
	size_t cost;
	int rc, r;

	rc = re_translate(pattern, &ere, &cost, err);
	if (rc < 0)
		return rc;
	if (subject && strlen(subject) > RE_MAX_WORK / cost) {
		free(ere);
		*limit = RE_MAX_WORK / cost;
		return -E2BIG;
	}
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (c_locale == (locale_t)0) {
		free(ere);
		sb_puts(err, "out of memory");
		return -ENOMEM;
	}
	old = uselocale(c_locale);
	r = regcomp(&re, ere, REG_EXTENDED | REG_NOSUB);
	if (r != 0) {
		char why[128];

		regerror(r, &re, why, sizeof(why));
		sb_printf(err, "pattern does not compile: %s", why);
		rc = r == REG_ESPACE ? -ENOMEM : -EINVAL;
		goto out;
	}
	if (subject) {
		r = regexec(&re, subject, 0, NULL, 0);
		if (r == 0 || r == REG_NOMATCH) {
			*matched = r == 0;
		} else {
			sb_puts(err, "pattern matching ran out of memory");
			rc = -ENOMEM;
		}
	}
	regfree(&re);
out:
	uselocale(old);
	freelocale(c_locale);
	free(ere);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* gw_schema_check */

enum kw_kind {
	KW_STRING,     /* annotation holding a string */
	KW_BOOL,       /* a boolean */
	KW_ANY,	       /* any value */
	KW_ARRAY,      /* annotation holding an array */
	KW_TYPE,       /* a type name or an array of them */
	KW_PROPERTIES, /* an object of schemas */
	KW_REQUIRED,   /* an array of distinct strings */
	KW_SCHEMA,     /* one schema */
	KW_COUNT,      /* a non-negative integer */
	KW_NUMBER,     /* a number */
	KW_MULTIPLE,   /* a number > 0 */
	KW_ENUM,       /* a non-empty array */
	KW_PATTERN,    /* a regex */
};

static const struct {
	const char *name;
	enum kw_kind kind;
} keywords[] = {
    {"$schema", KW_STRING},
    {"$id", KW_STRING},
    {"$comment", KW_STRING},
    {"title", KW_STRING},
    {"description", KW_STRING},
    {"format", KW_STRING},
    {"default", KW_ANY},
    {"examples", KW_ARRAY},
    {"deprecated", KW_BOOL},
    {"readOnly", KW_BOOL},
    {"writeOnly", KW_BOOL},
    {"type", KW_TYPE},
    {"enum", KW_ENUM},
    {"const", KW_ANY},
    {"properties", KW_PROPERTIES},
    {"required", KW_REQUIRED},
    {"additionalProperties", KW_SCHEMA},
    {"minProperties", KW_COUNT},
    {"maxProperties", KW_COUNT},
    {"minLength", KW_COUNT},
    {"maxLength", KW_COUNT},
    {"pattern", KW_PATTERN},
    {"minimum", KW_NUMBER},
    {"maximum", KW_NUMBER},
    {"exclusiveMinimum", KW_NUMBER},
    {"exclusiveMaximum", KW_NUMBER},
    {"multipleOf", KW_MULTIPLE},
    {"items", KW_SCHEMA},
    {"minItems", KW_COUNT},
    {"maxItems", KW_COUNT},
    {"uniqueItems", KW_BOOL},
};

struct check {
	const cJSON **bad;
	char *msg;
	size_t msglen;
};

__attribute__((format(printf, 3, 4))) static int check_fail(struct check *c, const cJSON *node,
							    const char *fmt, ...)
{
	struct sbuf b;
	va_list ap;

	sb_init(&b, c->msg, c->msglen);
	va_start(ap, fmt);
	sb_vprintf(&b, fmt, ap);
	va_end(ap);
	sb_finish(&b);
	*c->bad = node;
	return -EINVAL;
}

static bool is_number(const cJSON *v)
{
	double d;

	if (!cJSON_IsNumber(v))
		return false;
	d = v->valuedouble;
	return d == d && d - d == 0; /* finite: "1e999" parses as infinity */
}

static int check_schema(const cJSON *s, unsigned depth, struct check *c);

static int check_type(const cJSON *kw, struct check *c)
{
	const cJSON *e;
	unsigned seen = 0, bit;

	if (cJSON_IsString(kw)) {
		if (type_bit(kw->valuestring) == 0)
			goto unknown;
		return 0;
	}
	if (!cJSON_IsArray(kw) || !kw->child)
		return check_fail(c, kw, "type must be a type name or a non-empty array of them");
	cJSON_ArrayForEach(e, kw)
	{
		if (!cJSON_IsString(e))
			return check_fail(c, e, "type must list type names as strings");
		bit = type_bit(e->valuestring);
		if (bit == 0) {
			kw = e;
			goto unknown;
		}
		if (seen & bit)
			return check_fail(c, e, "type lists \"%s\" twice", e->valuestring);
		seen |= bit;
	}
	return 0;
unknown:
	return check_fail(c, kw,
			  "unknown type \"%s\" (expected object, string, integer, number, boolean, "
			  "array or null)",
			  kw->valuestring);
}

static int check_keyword(const cJSON *kw, enum kw_kind kind, unsigned depth, struct check *c)
{
	const char *name = kw->string;
	const cJSON *e, *f;
	struct sbuf err;
	bool matched;
	size_t limit;
	int rc;

	switch (kind) {
	case KW_STRING:
		if (!cJSON_IsString(kw))
			return check_fail(c, kw, "%s must be a string", name);
		return 0;
	case KW_BOOL:
		if (!cJSON_IsBool(kw))
			return check_fail(c, kw, "%s must be a boolean", name);
		return 0;
	case KW_ANY:
		return 0;
	case KW_ARRAY:
		if (!cJSON_IsArray(kw))
			return check_fail(c, kw, "%s must be an array", name);
		return 0;
	case KW_TYPE:
		return check_type(kw, c);
	case KW_PROPERTIES:
		if (!cJSON_IsObject(kw))
			return check_fail(c, kw, "properties must be an object of schemas");
		cJSON_ArrayForEach(e, kw)
		{
			rc = check_schema(e, depth + 1, c);
			if (rc < 0)
				return rc;
		}
		return 0;
	case KW_REQUIRED:
		if (!cJSON_IsArray(kw))
			return check_fail(c, kw, "required must be an array of property names");
		cJSON_ArrayForEach(e, kw)
		{
			if (!cJSON_IsString(e))
				return check_fail(c, e,
						  "required must list property names as strings");
			for (f = kw->child; f != e; f = f->next)
				if (strcmp(f->valuestring, e->valuestring) == 0)
					return check_fail(c, e, "required lists \"%s\" twice",
							  e->valuestring);
		}
		return 0;
	case KW_SCHEMA:
		if (cJSON_IsArray(kw) && strcmp(name, "items") == 0)
			return check_fail(c, kw,
					  "items must be a single schema; tuple arrays are not "
					  "supported");
		if (!cJSON_IsObject(kw) && !cJSON_IsBool(kw))
			return check_fail(c, kw, "%s must be a schema (an object or a boolean)",
					  name);
		return check_schema(kw, depth + 1, c);
	case KW_COUNT:
		if (!is_number(kw) || !is_integral(kw->valuedouble) || kw->valuedouble < 0)
			return check_fail(c, kw, "%s must be a non-negative integer", name);
		return 0;
	case KW_NUMBER:
		if (!is_number(kw))
			return check_fail(c, kw, "%s must be a number", name);
		return 0;
	case KW_MULTIPLE:
		if (!is_number(kw) || !(kw->valuedouble > 0))
			return check_fail(c, kw, "%s must be a number greater than 0", name);
		return 0;
	case KW_ENUM:
		if (!cJSON_IsArray(kw) || !kw->child)
			return check_fail(c, kw, "enum must be a non-empty array");
		return 0;
	case KW_PATTERN:
		if (!cJSON_IsString(kw))
			return check_fail(c, kw, "pattern must be a string");
		/* Compiling proves the pattern works; the result is thrown away
		 * because nothing here may outlive the call. */
		sb_init(&err, c->msg, c->msglen);
		rc = pattern_test(kw->valuestring, NULL, &matched, &limit, &err);
		if (rc < 0) {
			sb_finish(&err);
			*c->bad = kw;
		}
		return rc;
	}
	return 0;
}

static int check_schema(const cJSON *s, unsigned depth, struct check *c)
{
	const cJSON *kw;
	size_t i;
	int rc;

	if (depth > MAX_DEPTH)
		return check_fail(c, s, "schema nests more than %d levels deep", MAX_DEPTH);
	/* true and false are schemas (accept all, accept nothing), but the top
	 * level names the arguments of a tool and must describe an object. */
	if (cJSON_IsBool(s) && depth > 0)
		return 0;
	if (!cJSON_IsObject(s))
		return check_fail(c, s,
				  depth > 0 ? "a schema must be an object or a boolean (got %s)"
					    : "schema must be an object (got %s)",
				  json_type_name(s));
	cJSON_ArrayForEach(kw, s)
	{
		for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
			if (kw->string && strcmp(kw->string, keywords[i].name) == 0)
				break;
		if (i == sizeof(keywords) / sizeof(keywords[0]))
			return check_fail(c, kw, "unsupported schema keyword \"%s\"",
					  kw->string ? kw->string : "");
		rc = check_keyword(kw, keywords[i].kind, depth, c);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int gw_schema_check(const cJSON *schema, const cJSON **bad, char *msg, size_t msglen)
{
	struct check c = {.bad = bad, .msg = msg, .msglen = msglen};

	return check_schema(schema, 0, &c);
}

/* ------------------------------------------------------------------------ */
/* gw_schema_validate */

struct validate {
	const char *root; /* the top level, e.g. "arguments" */
	const char *noun; /* one value under it, e.g. "argument" */
	struct sbuf path; /* "opts.depth", "files[2]"; empty at the top */
	char pathbuf[256];
	char *msg;
	size_t msglen;
};

struct path_mark {
	size_t len;
	bool cut;
};

static struct path_mark path_mark(const struct validate *v)
{
	return (struct path_mark){v->path.len, v->path.cut};
}

static void path_reset(struct validate *v, struct path_mark m)
{
	v->path.len = m.len;
	v->path.cut = m.cut;
	v->path.buf[m.len] = '\0';
}

/* Control bytes in a key are replaced: the key came from the caller and the
 * message goes to a model and to logs. */
static void path_push_key(struct validate *v, const char *key)
{
	if (v->path.len > 0)
		sb_putc(&v->path, '.');
	for (; *key; key++) {
		char c = *key;

		if ((unsigned char)c < 0x20 || c == 0x7F)
			c = '?';
		sb_putc(&v->path, c);
	}
}

static void path_push_index(struct validate *v, size_t i)
{
	sb_printf(&v->path, "[%zu]", i);
}

/* Reports one violation: "argument 'opts.depth': must be ..." with colon, or
 * "argument 'x' is required" without. */
__attribute__((format(printf, 3, 4))) static int fail(struct validate *v, bool colon,
						      const char *fmt, ...)
{
	struct sbuf b;
	va_list ap;

	sb_init(&b, v->msg, v->msglen);
	if (v->path.len == 0)
		sb_puts(&b, v->root);
	else if (!v->path.cut)
		sb_printf(&b, "%s '%s'", v->noun, v->path.buf);
	else
		sb_printf(&b, "%s '%.*s...'", v->noun, (int)utf8_floor(v->path.buf, v->path.len),
			  v->path.buf);
	sb_puts(&b, colon ? ": " : " ");
	va_start(ap, fmt);
	sb_vprintf(&b, fmt, ap);
	va_end(ap);
	sb_finish(&b);
	return -EINVAL;
}

/* A list for a message ("\"a\", \"b\", ..."), cut after the last item that
 * fits so it never ends mid-item. */
struct list {
	struct sbuf b;
	char buf[200];
	size_t n;
	bool more;
};

static void list_init(struct list *l)
{
	/* Keep room for ", ..." past the end of what items may fill. */
	sb_init(&l->b, l->buf, sizeof(l->buf) - 8);
	l->n = 0;
	l->more = false;
}

/* Returns false once the list is full. */
static bool list_begin(struct list *l, size_t *mark)
{
	if (l->more)
		return false;
	*mark = l->b.len;
	if (l->n++ > 0)
		sb_puts(&l->b, ", ");
	return true;
}

static void list_end(struct list *l, size_t mark)
{
	if (!l->b.cut)
		return;
	l->b.len = mark;
	l->b.buf[mark] = '\0';
	l->more = true;
}

static const char *list_text(struct list *l)
{
	if (l->more) {
		l->b.cap = sizeof(l->buf);
		sb_puts(&l->b, l->n > 1 ? ", ..." : "...");
	}
	return l->buf;
}

static int validate_schema(struct validate *v, const cJSON *s, const cJSON *x, unsigned depth);

static int validate_type(struct validate *v, const cJSON *type, const cJSON *x)
{
	unsigned want = 0, nwant = 0, k = 0;
	char text[128], got[32];
	struct sbuf b;
	const cJSON *e;

	if (cJSON_IsString(type)) {
		want = type_bit(type->valuestring);
	} else {
		cJSON_ArrayForEach(e, type)
		{
			if (cJSON_IsString(e))
				want |= type_bit(e->valuestring);
		}
	}
	if (want & value_types(x))
		return 0;
	for (size_t i = 0; i < NTYPES; i++)
		nwant += (want & types[i].bit) != 0;
	/* "a string, an integer or null" */
	sb_init(&b, text, sizeof(text));
	for (size_t i = 0; i < NTYPES; i++) {
		if (!(want & types[i].bit))
			continue;
		if (k++ > 0)
			sb_puts(&b, k == nwant ? " or " : ", ");
		sb_puts(&b, types[i].phrase);
	}
	/* For a fractional number where an integer was wanted, the value says
	 * more than "number" would. */
	if (cJSON_IsNumber(x) && (want & T_INTEGER))
		fmt_num(got, x->valuedouble);
	else
		snprintf(got, sizeof(got), "%s", json_type_name(x));
	return fail(v, true, "must be %s (got %s)", text, got);
}

static int validate_enum(struct validate *v, const cJSON *en, const cJSON *x)
{
	const cJSON *e;
	struct list l;
	size_t mark;
	int rc;

	cJSON_ArrayForEach(e, en)
	{
		rc = values_equal(e, x, 0);
		if (rc < 0)
			return fail(v, true, "is nested too deeply to compare (enum)");
		if (rc > 0)
			return 0;
	}
	list_init(&l);
	cJSON_ArrayForEach(e, en)
	{
		if (!list_begin(&l, &mark))
			break;
		put_json_value(&l.b, e, 0);
		list_end(&l, mark);
	}
	if (en->child && !en->child->next)
		return fail(v, true, "must be %s (enum)", list_text(&l));
	return fail(v, true, "must be one of %s (enum)", list_text(&l));
}

static int validate_const(struct validate *v, const cJSON *k, const cJSON *x)
{
	char text[200];
	struct sbuf b;
	int rc = values_equal(k, x, 0);

	if (rc > 0)
		return 0;
	if (rc < 0)
		return fail(v, true, "is nested too deeply to compare (const)");
	sb_init(&b, text, sizeof(text));
	put_json_value(&b, k, 0);
	sb_finish(&b);
	return fail(v, true, "must be %s (const)", text);
}

/* "fewer than 1 item", "more than 10 items" */
static int fail_count(struct validate *v, const char *cmp, double bound, const char *one,
		      const char *many, const char *kw)
{
	char num[32];

	fmt_num(num, bound);
	return fail(v, true, "%s %s %s (%s)", cmp, num, bound == 1 ? one : many, kw);
}

static const cJSON *keyword(const cJSON *s, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(s, name);
}

static int validate_string(struct validate *v, const cJSON *s, const cJSON *x)
{
	const cJSON *k;
	size_t len = utf8_count(x->valuestring);
	struct sbuf err;
	char why[128];
	bool matched = false;
	size_t limit = 0;
	int rc;

	if ((k = keyword(s, "minLength")) && (double)len < k->valuedouble)
		return fail_count(v, "shorter than", k->valuedouble, "character", "characters",
				  "minLength");
	if ((k = keyword(s, "maxLength")) && (double)len > k->valuedouble)
		return fail_count(v, "longer than", k->valuedouble, "character", "characters",
				  "maxLength");
	if ((k = keyword(s, "pattern")) && cJSON_IsString(k)) {
		sb_init(&err, why, sizeof(why));
		rc = pattern_test(k->valuestring, x->valuestring, &matched, &limit, &err);
		if (rc == -E2BIG)
			return fail(
			    v, true,
			    "is too long to check against pattern %s (%zu bytes; at most %zu)",
			    k->valuestring, strlen(x->valuestring), limit);
		if (rc < 0) {
			/* Only memory can run out here: the pattern passed the check. */
			(void)fail(v, true, "cannot be checked: %s", why);
			return rc;
		}
		if (!matched)
			return fail(v, true, "does not match pattern %s", k->valuestring);
	}
	return 0;
}

/* Whether x is an integer multiple of m (m > 0). Integers are tested
 * exactly. Otherwise the quotient is allowed the rounding error of one
 * division: decimal fractions such as 0.01 have no exact binary form, and an
 * exact test would refuse 19.99 as a multiple of 0.01. */
static bool is_multiple(double x, double m)
{
	double q, r, diff;

	if (is_integral(m)) {
		if (!is_integral(x))
			return false;
		if (x > -EXACT_INT_LIMIT && x < EXACT_INT_LIMIT && m < EXACT_INT_LIMIT)
			return (int64_t)x % (int64_t)m == 0;
	}
	q = x / m;
	if (!(q - q == 0))
		return false; /* the quotient overflowed */
	if (q >= EXACT_INT_LIMIT || q <= -EXACT_INT_LIMIT)
		return true; /* beyond the precision that could tell */
	r = (double)(int64_t)(q < 0 ? q - 0.5 : q + 0.5);
	diff = q > r ? q - r : r - q;
	return diff <= 4 * 2.220446049250313e-16 * (q < 0 ? -q : q);
}

/* "must be >= 1 (minimum)" */
static int fail_bound(struct validate *v, const char *op, double bound, const char *kw)
{
	char num[32];

	fmt_num(num, bound);
	return fail(v, true, "must be %s %s (%s)", op, num, kw);
}

static int validate_number(struct validate *v, const cJSON *s, const cJSON *x)
{
	double d = x->valuedouble;
	const cJSON *k;

	if ((k = keyword(s, "minimum")) && d < k->valuedouble)
		return fail_bound(v, ">=", k->valuedouble, "minimum");
	if ((k = keyword(s, "maximum")) && d > k->valuedouble)
		return fail_bound(v, "<=", k->valuedouble, "maximum");
	if ((k = keyword(s, "exclusiveMinimum")) && d <= k->valuedouble)
		return fail_bound(v, ">", k->valuedouble, "exclusiveMinimum");
	if ((k = keyword(s, "exclusiveMaximum")) && d >= k->valuedouble)
		return fail_bound(v, "<", k->valuedouble, "exclusiveMaximum");
	if ((k = keyword(s, "multipleOf")) && k->valuedouble > 0 && !is_multiple(d, k->valuedouble))
		return fail_bound(v, "a multiple of", k->valuedouble, "multipleOf");
	return 0;
}

static int validate_object(struct validate *v, const cJSON *s, const cJSON *x, unsigned depth)
{
	const cJSON *k, *e, *props = keyword(s, "properties"),
			    *addl = keyword(s, "additionalProperties"), *sub;
	double count = cJSON_GetArraySize(x);
	struct path_mark mark = path_mark(v);
	struct list l;
	size_t lmark;
	int rc;

	if ((k = keyword(s, "required"))) {
		cJSON_ArrayForEach(e, k)
		{
			if (!cJSON_IsString(e) ||
			    cJSON_GetObjectItemCaseSensitive(x, e->valuestring))
				continue;
			path_push_key(v, e->valuestring);
			rc = fail(v, false, "is required");
			path_reset(v, mark);
			return rc;
		}
	}
	if ((k = keyword(s, "minProperties")) && count < k->valuedouble)
		return fail_count(v, "fewer than", k->valuedouble, "property", "properties",
				  "minProperties");
	if ((k = keyword(s, "maxProperties")) && count > k->valuedouble)
		return fail_count(v, "more than", k->valuedouble, "property", "properties",
				  "maxProperties");
	cJSON_ArrayForEach(e, x)
	{
		if (!e->string)
			continue;
		sub = cJSON_IsObject(props) ? cJSON_GetObjectItemCaseSensitive(props, e->string)
					    : NULL;
		if (!sub)
			sub = addl;
		if (!sub)
			continue;
		path_push_key(v, e->string);
		if (sub == addl && cJSON_IsFalse(addl)) {
			/* Name the allowed arguments: a misspelt name is the usual
			 * cause, and the model can correct it from this list. */
			list_init(&l);
			if (cJSON_IsObject(props)) {
				cJSON_ArrayForEach(k, props)
				{
					if (!list_begin(&l, &lmark))
						break;
					sb_puts(&l.b, k->string ? k->string : "");
					list_end(&l, lmark);
				}
			}
			rc = fail(v, false,
				  "is not allowed (additionalProperties is false); allowed: %s",
				  l.n > 0 ? list_text(&l) : "none");
		} else {
			rc = validate_schema(v, sub, e, depth + 1);
		}
		path_reset(v, mark);
		if (rc < 0)
			return rc;
	}
	return 0;
}

struct item_hash {
	uint64_t h;
	size_t i;
	const cJSON *v;
};

static int item_hash_cmp(const void *pa, const void *pb)
{
	const struct item_hash *a = pa, *b = pb;

	if (a->h != b->h)
		return a->h < b->h ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

/* Finds the equal pair of items with the smallest second index. Items are
 * sorted by hash so only items with equal hashes are compared: comparing all
 * pairs would let one long array cost a quadratic number of comparisons.
 * Returns 1 with *pi < *pj set, 0 if all items differ, -ELOOP if values nest
 * too deeply to compare, -ENOMEM. */
static int find_duplicate(const cJSON *x, size_t n, size_t *pi, size_t *pj)
{
	struct item_hash *h;
	const cJSON *e;
	size_t i = 0, a, b, end, best_i = 0, best_j = SIZE_MAX;
	int rc = 0, eq;

	if (n < 2)
		return 0;
	h = calloc(n, sizeof(*h));
	if (!h)
		return -ENOMEM;
	cJSON_ArrayForEach(e, x)
	{
		h[i].h = hash_value(e, 0);
		h[i].i = i;
		h[i].v = e;
		i++;
	}
	qsort(h, n, sizeof(*h), item_hash_cmp);
	for (a = 0; a < n; a = end) {
		for (end = a + 1; end < n && h[end].h == h[a].h; end++)
			;
		/* Within a run, items are in index order. */
		for (b = a + 1; b < end && h[b].i < best_j; b++) {
			for (i = a; i < b; i++) {
				eq = values_equal(h[i].v, h[b].v, 0);
				if (eq < 0) {
					rc = eq;
					goto out;
				}
				if (eq > 0) {
					best_i = h[i].i;
					best_j = h[b].i;
					break;
				}
			}
		}
	}
	if (best_j != SIZE_MAX) {
		*pi = best_i;
		*pj = best_j;
		rc = 1;
	}
out:
	free(h);
	return rc;
}

static int validate_array(struct validate *v, const cJSON *s, const cJSON *x, unsigned depth)
{
	const cJSON *k, *e, *items = keyword(s, "items");
	size_t n = 0, i = 0, j = 0;
	struct path_mark mark = path_mark(v);
	int rc;

	cJSON_ArrayForEach(e, x) n++;
	if ((k = keyword(s, "minItems")) && (double)n < k->valuedouble)
		return fail_count(v, "fewer than", k->valuedouble, "item", "items", "minItems");
	if ((k = keyword(s, "maxItems")) && (double)n > k->valuedouble)
		return fail_count(v, "more than", k->valuedouble, "item", "items", "maxItems");
	if (items) {
		cJSON_ArrayForEach(e, x)
		{
			path_push_index(v, i++);
			rc = validate_schema(v, items, e, depth + 1);
			path_reset(v, mark);
			if (rc < 0)
				return rc;
		}
	}
	if (cJSON_IsTrue(keyword(s, "uniqueItems"))) {
		rc = find_duplicate(x, n, &i, &j);
		if (rc == -ENOMEM) {
			(void)fail(v, true, "cannot be checked: out of memory (uniqueItems)");
			return rc;
		}
		if (rc < 0)
			return fail(v, true,
				    "items are nested too deeply to compare (uniqueItems)");
		if (rc > 0)
			return fail(v, true, "items [%zu] and [%zu] are equal (uniqueItems)", i, j);
	}
	return 0;
}

static int validate_schema(struct validate *v, const cJSON *s, const cJSON *x, unsigned depth)
{
	const cJSON *k;
	int rc;

	if (cJSON_IsTrue(s))
		return 0;
	if (cJSON_IsFalse(s))
		return fail(v, false, "is not allowed");
	if (!cJSON_IsObject(s))
		return fail(v, true, "has a schema toolcell did not check");
	/* gw_schema_check bounds schema depth, and this walk follows the
	 * schema; the guard covers a schema that skipped the check. */
	if (depth > MAX_DEPTH)
		return fail(v, true, "schema nests more than %d levels deep", MAX_DEPTH);
	if ((k = keyword(s, "type")) && (rc = validate_type(v, k, x)) < 0)
		return rc;
	if ((k = keyword(s, "enum")) && (rc = validate_enum(v, k, x)) < 0)
		return rc;
	if ((k = keyword(s, "const")) && (rc = validate_const(v, k, x)) < 0)
		return rc;
	/* Each group of keywords applies only to values of its type. */
	if (cJSON_IsString(x))
		return validate_string(v, s, x);
	if (cJSON_IsNumber(x))
		return validate_number(v, s, x);
	if (cJSON_IsObject(x))
		return validate_object(v, s, x, depth);
	if (cJSON_IsArray(x))
		return validate_array(v, s, x, depth);
	return 0;
}

int gw_schema_validate(const cJSON *schema, const cJSON *value, const char *root, char *msg,
		       size_t msglen)
{
	struct validate v = {.root = root, .msg = msg, .msglen = msglen};

	/* "argument 'path'" reads better than "arguments 'path'". */
	v.noun = strcmp(root, "arguments") == 0 ? "argument" : root;
	sb_init(&v.path, v.pathbuf, sizeof(v.pathbuf));
	return validate_schema(&v, schema, value, 0);
}
