/* Strict JSON parsing into cJSON trees with positions (see json.h).
 *
 * The parser is iterative: open arrays and objects live on an explicit stack on
 * the heap, so the C stack stays flat whatever max_depth a caller passes, and
 * the depth check alone bounds the memory a deeply nested document can pin.
 * Every node is attached to its parent the moment it is created, so on any
 * error deleting the root frees everything built so far. Pure: no I/O. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* tdestroy */
#endif

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <search.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/json.h"

/* Objects with at most this many members are checked for duplicate keys by a
 * linear scan, which is cheapest for the small objects JSON-RPC and manifests
 * use. Past it the keys go into a balanced tree (glibc's tsearch is a red-black
 * tree), so a hostile object with 100k members costs O(n log n), not O(n^2).
 * A tree rather than a hash: an unseeded hash can be flooded with colliding
 * keys, and seeding it would make this pure module draw randomness. */
#define SMALL_OBJECT 32

/* How much of a key a duplicate-key message shows before "...". */
#define SHOWN_KEY_MAX 64

/* A growable byte buffer for decoded strings, always NUL-terminated after
 * buf_terminate so it can go straight to cJSON_CreateString. */
struct buf {
	char *data;
	size_t len, cap;
};

/* One open array or object. */
struct frame {
	cJSON *node;
	size_t pos_index; /* its entry in parser.pos; end is filled in at close */
	size_t count;	  /* members so far */
	/* Once count > SMALL_OBJECT, a tsearch tree of the member names,
	 * borrowed from the members. */
	void *keys;
};

struct parser {
	const unsigned char *s;
	size_t len, off;
	/* Line of s[off] and offset where that line starts; only whitespace
	 * can contain '\n' (raw newlines in strings are errors), so skip_ws is
	 * the only place that advances them. */
	size_t line, line_start;
	unsigned max_depth;

	cJSON *root;
	struct frame *stack;
	size_t depth, stack_cap;
	struct gw_json_pos *pos;
	size_t npos, pos_cap;

	/* The pending object key and where it started. It has its own buffer
	 * because the member's value, decoded into str, comes after it. */
	struct buf key;
	size_t key_line, key_col;
	struct buf str;

	struct gw_json_error *err;
};

static unsigned clamp_unsigned(size_t v)
{
	return v > UINT_MAX ? UINT_MAX : (unsigned)v;
}

static size_t col_of(const struct parser *p, size_t off)
{
	return off - p->line_start + 1;
}

/* The format attributes let -Wformat check every message at compile time. */
static void vset_error(struct parser *p, size_t line, size_t col, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static int fail_at(struct parser *p, size_t line, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct parser *p, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void vset_error(struct parser *p, size_t line, size_t col, const char *fmt, va_list ap)
{
	if (!p->err)
		return;
	p->err->line = clamp_unsigned(line);
	p->err->col = clamp_unsigned(col);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
}

/* Reports a syntax error at a remembered line and column. */
static int fail_at(struct parser *p, size_t line, size_t col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset_error(p, line, col, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Reports a syntax error at byte offset off, which must be on the current line. */
static int fail(struct parser *p, size_t off, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset_error(p, p->line, col_of(p, off), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int fail_eof(struct parser *p)
{
	return fail(p, p->len, "unexpected end of input");
}

static int fail_nomem(struct parser *p)
{
	fail(p, p->off < p->len ? p->off : p->len, "out of memory");
	return -ENOMEM;
}

/* Writes byte c as a message shows it: itself if printable ASCII, else \xNN,
 * so that a stray NUL or control byte cannot garble a terminal or a log. */
const char *gw_byte_repr(unsigned char c, char out[static 5])
{
	if (c >= 0x20 && c < 0x7f) {
		out[0] = (char)c;
		out[1] = '\0';
	} else {
		snprintf(out, 5, "\\x%02x", c);
	}
	return out;
}

/* Writes a decoded key for a message: quotes, backslashes and control bytes
 * escaped, long keys cut at a character boundary and marked with "...". The
 * key is valid UTF-8 (the parser checked it), so multi-byte characters are
 * copied whole. */
static void show_key(const char *key, char *out, size_t outlen)
{
	const unsigned char *k = (const unsigned char *)key;
	size_t used = 0;

	while (*k) {
		char rep[5];
		size_t n = 1;

		if (*k == '"' || *k == '\\') {
			rep[0] = '\\';
			rep[1] = (char)*k;
			rep[2] = '\0';
		} else if (*k < 0x20 || *k == 0x7f) {
			gw_byte_repr(*k, rep);
		} else {
			if (*k >= 0xf0)
				n = 4;
			else if (*k >= 0xe0)
				n = 3;
			else if (*k >= 0xc0)
				n = 2;
			memcpy(rep, k, n);
			rep[n] = '\0';
		}
		if (used + strlen(rep) > SHOWN_KEY_MAX || used + strlen(rep) + 4 > outlen) {
			snprintf(out + used, outlen - used, "...");
			return;
		}
		memcpy(out + used, rep, strlen(rep) + 1);
		used += strlen(rep);
		k += n;
	}
	out[used] = '\0';
}

/* Returns arr grown to hold at least need elements of size bytes (updating
 * *cap), or NULL with arr untouched if memory or size_t runs out. */
static void *grow(void *arr, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *a;

	if (need <= *cap)
		return arr;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return NULL;
		n *= 2;
	}
	if (n > SIZE_MAX / size)
		return NULL;
	a = realloc(arr, n * size);
	if (!a)
		return NULL;
	*cap = n;
	return a;
}

static int buf_append(struct buf *b, const void *data, size_t n)
{
	char *d;

	if (n > SIZE_MAX - b->len - 1)
		return -ENOMEM;
	d = grow(b->data, &b->cap, b->len + n + 1, 1);
	if (!d)
		return -ENOMEM;
	b->data = d;
	memcpy(b->data + b->len, data, n);
	b->len += n;
	return 0;
}

static int buf_terminate(struct buf *b)
{
	if (buf_append(b, "", 1) < 0)
		return -ENOMEM;
	b->len--;
	return 0;
}

static void skip_ws(struct parser *p)
{
	while (p->off < p->len) {
		unsigned char c = p->s[p->off];

		if (c == '\n') {
			p->line++;
			p->line_start = p->off + 1;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			break;
		}
		p->off++;
	}
}

/* Returns the length (2..4) of the valid UTF-8 sequence at s, 0 if the bytes
 * are not valid UTF-8, or -1 if the input ends inside a sequence that was
 * valid so far. Overlong forms, UTF-16 surrogates (ED A0..BF) and code points
 * past U+10FFFF are invalid: each would let two different byte strings mean
 * the same text, or smuggle text other UTF-8 consumers reject. */
static int utf8_seq(const unsigned char *s, size_t avail)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		if ((size_t)i >= avail)
			return -1;
		if (s[i] < lo || s[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Returns the code unit of a complete \uXXXX at s[off..], or -1. */
static long peek_u_escape(const struct parser *p, size_t off)
{
	long v = 0;

	if (p->len - off < 6 || p->s[off] != '\\' || p->s[off + 1] != 'u')
		return -1;
	for (int i = 2; i < 6; i++) {
		int d = hex_value(p->s[off + i]);

		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

static int append_utf8(struct buf *b, unsigned long cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(b, u, n);
}

/* Decodes the \uXXXX escape at p->off (the backslash) into b. */
static int parse_u_escape(struct parser *p, struct buf *b)
{
	size_t bs = p->off;
	long cp = peek_u_escape(p, bs);

	if (cp < 0) {
		/* Tell a cut-off escape from a malformed one. */
		for (size_t i = bs + 2; i < bs + 6; i++) {
			if (i >= p->len)
				return fail_eof(p);
			if (hex_value(p->s[i]) < 0)
				break;
		}
		return fail(p, bs, "invalid \\u escape in string");
	}
	p->off = bs + 6;
	/* cJSON strings are NUL-terminated, so U+0000 would silently cut the
	 * string short and the program would act on different text than the
	 * client sent. */
	if (cp == 0)
		return fail(p, bs, "string contains U+0000, which toolcell does not accept");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		long lo = peek_u_escape(p, p->off);

		if (lo >= 0xdc00 && lo <= 0xdfff) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p->off += 6;
		} else {
			/* A lone high surrogate; whatever follows is decoded on its own. */
			cp = 0xfffd;
		}
	} else if (cp >= 0xdc00 && cp <= 0xdfff) {
		cp = 0xfffd;
	}
	if (append_utf8(b, (unsigned long)cp) < 0)
		return fail_nomem(p);
	return 0;
}

/* Decodes the escape at p->off (the backslash) into b. */
static int parse_escape(struct parser *p, struct buf *b)
{
	char c, rep[5];

	if (p->len - p->off < 2)
		return fail_eof(p);
	switch (p->s[p->off + 1]) {
	case '"':
		c = '"';
		break;
	case '\\':
		c = '\\';
		break;
	case '/':
		c = '/';
		break;
	case 'b':
		c = '\b';
		break;
	case 'f':
		c = '\f';
		break;
	case 'n':
		c = '\n';
		break;
	case 'r':
		c = '\r';
		break;
	case 't':
		c = '\t';
		break;
	case 'u':
		return parse_u_escape(p, b);
	default:
		return fail(p, p->off, "invalid escape \\%s in string",
			    gw_byte_repr(p->s[p->off + 1], rep));
	}
	if (buf_append(b, &c, 1) < 0)
		return fail_nomem(p);
	p->off += 2;
	return 0;
}

/* Decodes the string starting at the quote at p->off into b (NUL-terminated)
 * and leaves p->off just past the closing quote. */
static int parse_string(struct parser *p, struct buf *b)
{
	b->len = 0;
	p->off++;
	for (;;) {
		size_t run = p->off;
		unsigned char c = 0;
		int r;

		/* Copy plain bytes in one go; only quotes, escapes and control
		 * bytes end a run. */
		while (p->off < p->len) {
			c = p->s[p->off];
			if (c == '"' || c == '\\' || c < 0x20)
				break;
			if (c < 0x80) {
				p->off++;
				continue;
			}
			r = utf8_seq(p->s + p->off, p->len - p->off);
			if (r < 0)
				return fail_eof(p);
			if (r == 0)
				return fail(p, p->off, "invalid UTF-8 in string");
			p->off += (size_t)r;
		}
		if (buf_append(b, p->s + run, p->off - run) < 0)
			return fail_nomem(p);
		if (p->off == p->len)
			return fail_eof(p);
		if (c == '"')
			break;
		if (c < 0x20) {
			char rep[5];

			return fail(p, p->off, "unescaped control character %s in string",
				    gw_byte_repr(c, rep));
		}
		r = parse_escape(p, b);
		if (r < 0)
			return r;
	}
	p->off++;
	if (buf_terminate(b) < 0)
		return fail_nomem(p);
	return 0;
}

static int is_digit(const struct parser *p)
{
	return p->off < p->len && p->s[p->off] >= '0' && p->s[p->off] <= '9';
}

/* Requires at least one digit at p->off and skips all of them. */
static int parse_digits(struct parser *p)
{
	if (p->off == p->len)
		return fail_eof(p);
	if (!is_digit(p))
		return fail(p, p->off, "invalid number");
	while (is_digit(p))
		p->off++;
	return 0;
}

/* Checks the number at p->off against the RFC 8259 grammar, then converts
 * exactly that token with strtod. */
static int parse_number(struct parser *p, double *out)
{
	size_t start = p->off;
	char *end;
	double d;
	int r;

	if (p->s[p->off] == '-')
		p->off++;
	if (p->off < p->len && p->s[p->off] == '0') {
		p->off++;
		/* Leading zeros are refused rather than read as octal or
		 * decimal: senders disagree on what they mean. */
		if (is_digit(p))
			return fail(p, p->off, "invalid number");
	} else {
		r = parse_digits(p);
		if (r < 0)
			return r;
	}
	if (p->off < p->len && p->s[p->off] == '.') {
		p->off++;
		r = parse_digits(p);
		if (r < 0)
			return r;
	}
	if (p->off < p->len && (p->s[p->off] == 'e' || p->s[p->off] == 'E')) {
		p->off++;
		if (p->off < p->len && (p->s[p->off] == '+' || p->s[p->off] == '-'))
			p->off++;
		r = parse_digits(p);
		if (r < 0)
			return r;
	}

	p->str.len = 0;
	if (buf_append(&p->str, p->s + start, p->off - start) < 0 || buf_terminate(&p->str) < 0)
		return fail_nomem(p);
	d = strtod(p->str.data, &end);
	if (end != p->str.data + p->str.len)
		return fail(p, start, "invalid number");
	if (isinf(d))
		return fail(p, start, "number out of range");
	*out = d;
	return 0;
}

static int parse_literal(struct parser *p, const char *word)
{
	for (; *word; word++) {
		if (p->off == p->len)
			return fail_eof(p);
		if (p->s[p->off] != (unsigned char)*word) {
			char rep[5];

			return fail(p, p->off, "unexpected character '%s'",
				    gw_byte_repr(p->s[p->off], rep));
		}
		p->off++;
	}
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void keep_key(void *key)
{
	/* The keys in a frame's tree belong to the cJSON members. */
}

/* Is key already the name of a member of the object in f? */
static int has_key(const struct frame *f, const char *key)
{
	if (f->keys)
		return tfind(key, &f->keys, cmp_key) != NULL;
	for (const cJSON *c = f->node->child; c; c = c->next)
		if (strcmp(c->string, key) == 0)
			return 1;
	return 0;
}

/* Adds the name of item, just attached to the object in f, to its key tree
 * once the object has outgrown linear scans. */
static int remember_key(struct frame *f, const cJSON *item)
{
	if (f->count <= SMALL_OBJECT)
		return 0;
	if (f->count == SMALL_OBJECT + 1) {
		for (const cJSON *c = f->node->child; c; c = c->next)
			if (!tsearch(c->string, &f->keys, cmp_key))
				return -ENOMEM;
		return 0;
	}
	return tsearch(item->string, &f->keys, cmp_key) ? 0 : -ENOMEM;
}

/* Parses an object key at p->off (after '{' or ',' and whitespace), rejects
 * it if the object already has it, and consumes the ':' after it. */
static int parse_key(struct parser *p, const struct frame *f)
{
	int r;

	p->key_line = p->line;
	p->key_col = col_of(p, p->off);
	if (p->s[p->off] != '"')
		return fail(p, p->off, "expected string key in object");
	r = parse_string(p, &p->key);
	if (r < 0)
		return r;
	/* Two members with one name are read differently by different JSON
	 * libraries (first wins, last wins, error); refusing them means that
	 * what toolcell checks is what the program sees. */
	if (has_key(f, p->key.data)) {
		char shown[SHOWN_KEY_MAX + 4];

		show_key(p->key.data, shown, sizeof(shown));
		return fail_at(p, p->key_line, p->key_col, "duplicate key \"%s\"", shown);
	}
	skip_ws(p);
	if (p->off == p->len)
		return fail_eof(p);
	if (p->s[p->off] != ':')
		return fail(p, p->off, "expected ':' after object key");
	p->off++;
	return 0;
}

/* Hands item to its parent (or makes it the root) and records its position.
 * Takes ownership of item even on failure. */
static int attach(struct parser *p, cJSON *item, size_t line, size_t col, size_t start)
{
	struct gw_json_pos *pos, *e;
	size_t key_line = line, key_col = col;

	if (p->depth == 0) {
		p->root = item;
	} else {
		struct frame *f = &p->stack[p->depth - 1];

		if (cJSON_IsObject(f->node)) {
			/* cJSON_AddItemToObject copies the key, so p->key
			 * is free for the next member. */
			if (!cJSON_AddItemToObject(f->node, p->key.data, item)) {
				cJSON_Delete(item);
				return fail_nomem(p);
			}
			key_line = p->key_line;
			key_col = p->key_col;
			f->count++;
			if (remember_key(f, item) < 0)
				return fail_nomem(p);
		} else {
			if (!cJSON_AddItemToArray(f->node, item)) {
				cJSON_Delete(item);
				return fail_nomem(p);
			}
			f->count++;
		}
	}

	pos = grow(p->pos, &p->pos_cap, p->npos + 1, sizeof(*p->pos));
	if (!pos)
		return fail_nomem(p);
	p->pos = pos;
	e = &p->pos[p->npos++];
	e->node = item;
	e->line = clamp_unsigned(line);
	e->col = clamp_unsigned(col);
	e->key_line = clamp_unsigned(key_line);
	e->key_col = clamp_unsigned(key_col);
	e->start = start;
	e->end = p->off;
	return 0;
}

/* Parses one value at p->off (after optional whitespace). A scalar is
 * complete on return; an array or object is only opened and pushed. */
static int parse_value(struct parser *p)
{
	size_t start, line, col;
	cJSON *item;
	char rep[5];
	double d = 0;
	int r = 0;

	skip_ws(p);
	if (p->off == p->len)
		return fail_eof(p);
	start = p->off;
	line = p->line;
	col = col_of(p, start);
	switch (p->s[start]) {
	case '{':
	case '[':
		/* Checked before anything is allocated, so a flood of '['
		 * costs max_depth steps and no more. */
		if (p->depth >= p->max_depth)
			return fail(p, start, "nesting deeper than %u levels", p->max_depth);
		item = p->s[start] == '{' ? cJSON_CreateObject() : cJSON_CreateArray();
		p->off++;
		break;
	case '"':
		r = parse_string(p, &p->str);
		item = r < 0 ? NULL : cJSON_CreateString(p->str.data);
		break;
	case 't':
		r = parse_literal(p, "true");
		item = r < 0 ? NULL : cJSON_CreateTrue();
		break;
	case 'f':
		r = parse_literal(p, "false");
		item = r < 0 ? NULL : cJSON_CreateFalse();
		break;
	case 'n':
		r = parse_literal(p, "null");
		item = r < 0 ? NULL : cJSON_CreateNull();
		break;
	case '-':
	case '0' ... '9':
		r = parse_number(p, &d);
		item = r < 0 ? NULL : cJSON_CreateNumber(d);
		break;
	default:
		return fail(p, start, "unexpected character '%s'", gw_byte_repr(p->s[start], rep));
	}
	if (r < 0)
		return r;
	if (!item)
		return fail_nomem(p);
	r = attach(p, item, line, col, start);
	if (r < 0)
		return r;

	if (cJSON_IsArray(item) || cJSON_IsObject(item)) {
		struct frame *stack =
		    grow(p->stack, &p->stack_cap, p->depth + 1, sizeof(*p->stack));

		if (!stack)
			return fail_nomem(p);
		p->stack = stack;
		p->stack[p->depth++] = (struct frame){.node = item, .pos_index = p->npos - 1};
	}
	return 0;
}

static void close_container(struct parser *p)
{
	struct frame *f = &p->stack[--p->depth];

	p->off++;
	p->pos[f->pos_index].end = p->off;
	if (f->keys)
		tdestroy(f->keys, keep_key);
	f->keys = NULL;
}

/* After a value (or an opening bracket): closes finished containers and
 * consumes the ',' (and, in objects, the next key) before the next value.
 * Returns 1 if a value comes next, 0 at the end of the document. */
static int next_value(struct parser *p)
{
	for (;;) {
		struct frame *f;
		unsigned char close;

		skip_ws(p);
		if (p->depth == 0) {
			if (p->off < p->len)
				return fail(p, p->off, "unexpected data after JSON value");
			return 0;
		}
		if (p->off == p->len)
			return fail_eof(p);
		f = &p->stack[p->depth - 1];
		close = cJSON_IsObject(f->node) ? '}' : ']';
		if (p->s[p->off] == close) {
			close_container(p);
			continue;
		}
		if (f->count > 0) {
			size_t comma_line, comma_col;

			if (p->s[p->off] != ',')
				return fail(p, p->off,
					    close == '}' ? "expected ',' or '}' in object"
							 : "expected ',' or ']' in array");
			comma_line = p->line;
			comma_col = col_of(p, p->off);
			p->off++;
			skip_ws(p);
			if (p->off == p->len)
				return fail_eof(p);
			if (p->s[p->off] == close)
				return fail_at(p, comma_line, comma_col, "trailing comma in %s",
					       close == '}' ? "object" : "array");
		}
		if (close == '}') {
			int r = parse_key(p, f);

			if (r < 0)
				return r;
		}
		return 1;
	}
}

static int parse_document(struct parser *p)
{
	int r;

	skip_ws(p);
	if (p->off == p->len)
		return fail(p, p->off, "empty input");
	do {
		r = parse_value(p);
		if (r < 0)
			return r;
		r = next_value(p);
	} while (r > 0);
	return r;
}

static int cmp_pos(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct gw_json_pos *)a)->node;
	uintptr_t y = (uintptr_t)((const struct gw_json_pos *)b)->node;

	return x < y ? -1 : x > y;
}

int gw_json_parse(const char *buf, size_t len, unsigned max_depth, struct gw_json_doc *out,
		  struct gw_json_error *err)
{
	struct parser p = {
	    .s = (const unsigned char *)buf,
	    .len = len,
	    .line = 1,
	    .max_depth = max_depth,
	    .err = err,
	};
	int r;

	if (!out || (!buf && len > 0))
		return fail(&p, 0, "invalid arguments");
	r = parse_document(&p);
	if (r == 0) {
		qsort(p.pos, p.npos, sizeof(*p.pos), cmp_pos);
		out->root = p.root;
		out->pos = p.pos;
		out->npos = p.npos;
		p.root = NULL;
		p.pos = NULL;
	}

	while (p.depth > 0) {
		struct frame *f = &p.stack[--p.depth];

		if (f->keys)
			tdestroy(f->keys, keep_key);
	}
	free(p.stack);
	free(p.pos);
	cJSON_Delete(p.root);
	free(p.key.data);
	free(p.str.data);
	return r;
}

void gw_json_doc_free(struct gw_json_doc *doc)
{
	if (!doc)
		return;
	cJSON_Delete(doc->root);
	free(doc->pos);
	memset(doc, 0, sizeof(*doc));
}

const struct gw_json_pos *gw_json_pos_of(const struct gw_json_doc *doc, const cJSON *node)
{
	struct gw_json_pos key = {.node = node};

	if (!doc || !doc->pos || !node)
		return NULL;
	return bsearch(&key, doc->pos, doc->npos, sizeof(*doc->pos), cmp_pos);
}

const char *gw_json_type_name(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsArray(v))
		return "an array";
	return "an object";
}
