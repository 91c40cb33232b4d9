/* Content blocks that a tool prints itself: strict checks of their shape.
 *
 * Every object is checked member by member against a fixed table, so an
 * unknown member, a missing one or one of the wrong type is named by its path
 * ("[1].resource.blob"). Strings quoted back in messages are cut at a UTF-8
 * character boundary: the message itself travels in a JSON string. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gateway/content.h"
#include "gateway/json.h"
#include "gateway/utf8.h"

/* How much of a tool's string a message quotes. */
#define QUOTE_MAX 64

enum kind {
	K_TYPE,	       /* the block's "type", checked before its members */
	K_STRING,      /* any string */
	K_DATA,	       /* base64, not empty (image and audio bytes) */
	K_BLOB,	       /* base64, may be empty (an empty file is a file) */
	K_MIME,	       /* type/subtype */
	K_MIME_IMAGE,  /* image/... */
	K_MIME_AUDIO,  /* audio/... */
	K_URI,	       /* has a scheme */
	K_SIZE,	       /* a whole number of bytes */
	K_META,	       /* any object */
	K_ANNOTATIONS, /* MCP Annotations */
	K_AUDIENCE,    /* array of "user" | "assistant" */
	K_PRIORITY,    /* number in [0, 1] */
	K_DATETIME,    /* RFC 3339 date-time with an offset */
	K_ICONS,       /* array of MCP Icon */
	K_SIZES,       /* array of strings */
	K_THEME,       /* "light" | "dark" */
	K_RESOURCE,    /* TextResourceContents | BlobResourceContents */
};

struct member {
	const char *name;
	enum kind kind;
	bool required;
};

/* One member a line: the tables are the contract. */
/* clang-format off */
static const struct member text_block[] = {
    {"type", K_TYPE, true},
    {"text", K_STRING, true},
    {"annotations", K_ANNOTATIONS, false},
    {"_meta", K_META, false},
    {NULL, K_TYPE, false},
};

static const struct member image_block[] = {
    {"type", K_TYPE, true},
    {"data", K_DATA, true},
    {"mimeType", K_MIME_IMAGE, true},
    {"annotations", K_ANNOTATIONS, false},
    {"_meta", K_META, false},
    {NULL, K_TYPE, false},
};

static const struct member audio_block[] = {
    {"type", K_TYPE, true},
    {"data", K_DATA, true},
    {"mimeType", K_MIME_AUDIO, true},
    {"annotations", K_ANNOTATIONS, false},
    {"_meta", K_META, false},
    {NULL, K_TYPE, false},
};

/* A Resource (with icons, as of 2025-11-25) plus its type. */
static const struct member resource_link_block[] = {
    {"type", K_TYPE, true},
    {"uri", K_URI, true},
    {"name", K_STRING, true},
    {"title", K_STRING, false},
    {"description", K_STRING, false},
    {"mimeType", K_MIME, false},
    {"size", K_SIZE, false},
    {"icons", K_ICONS, false},
    {"annotations", K_ANNOTATIONS, false},
    {"_meta", K_META, false},
    {NULL, K_TYPE, false},
};

static const struct member resource_block[] = {
    {"type", K_TYPE, true},
    {"resource", K_RESOURCE, true},
    {"annotations", K_ANNOTATIONS, false},
    {"_meta", K_META, false},
    {NULL, K_TYPE, false},
};

/* "text" and "blob" are both optional here; exactly one is then required. */
static const struct member resource_contents[] = {
    {"uri", K_URI, true},
    {"mimeType", K_MIME, false},
    {"text", K_STRING, false},
    {"blob", K_BLOB, false},
    {"_meta", K_META, false},
    {NULL, K_TYPE, false},
};

static const struct member annotations[] = {
    {"audience", K_AUDIENCE, false},
    {"priority", K_PRIORITY, false},
    {"lastModified", K_DATETIME, false},
    {NULL, K_TYPE, false},
};

static const struct member icon[] = {
    {"src", K_URI, true},
    {"mimeType", K_MIME, false},
    {"sizes", K_SIZES, false},
    {"theme", K_THEME, false},
    {NULL, K_TYPE, false},
};
/* clang-format on */

static const struct {
	const char *type;
	const struct member *shape;
} block_types[] = {
    {"text", text_block},	  {"image", image_block},
    {"audio", audio_block},	  {"resource_link", resource_link_block},
    {"resource", resource_block},
};

#define NTYPES (sizeof(block_types) / sizeof(block_types[0]))

static int fail(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *msg, size_t len, const char *fmt, ...)
{
	if (len) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
		/* A short buffer may have cut a quoted character in two. */
		msg[gw_utf8_valid_prefix(msg, strlen(msg))] = '\0';
	}
	return -EINVAL;
}

/* Length of s to quote: at most QUOTE_MAX bytes, ending on a character. */
static int quote_len(const char *s)
{
	size_t n = strlen(s);

	return (int)gw_utf8_valid_prefix(s, n < QUOTE_MAX ? n : QUOTE_MAX);
}

static bool is_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

bool gw_base64_valid(const char *s, size_t n)
{
	if (n % 4 != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (is_b64_char(s[i]))
			continue;
		/* "=" pads the last quantum only: "xx==" or "xxx=". */
		if (s[i] != '=' || i < n - 2 || (i == n - 2 && s[n - 1] != '='))
			return false;
	}
	return true;
}

/* type/subtype, both non-empty, without blanks; parameters after ";" (as in
 * "text/plain; charset=utf-8") are allowed and not checked (RFC 6838 in
 * outline). */
static bool is_mime(const char *s)
{
	size_t n = strcspn(s, ";");
	const char *slash = memchr(s, '/', n);

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--; /* optional blanks before ";" */
	if (!slash || slash == s || slash + 1 >= s + n)
		return false;
	for (const char *p = s; p < s + n; p++)
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' ||
		    (*p == '/' && p != slash))
			return false;
	return true;
}

/* An absolute URI starts with a scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" /
 * "." ) ":" (RFC 3986 section 3.1). */
static bool is_uri(const char *s)
{
	const char *p = s;

	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return false;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
	       *p == '+' || *p == '-' || *p == '.')
		p++;
	return *p == ':';
}

/* n decimal digits at s, as a number, or -1. */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* RFC 3339 date-time with a time zone: 2025-01-12T15:00:58Z,
 * 2025-01-12T15:00:58.123+02:00. Clients validate lastModified this way and
 * drop the whole result when it does not parse. */
static bool is_datetime(const char *s)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y = digits(s, 4), mo, d;

	if (y < 0 || s[4] != '-' || (mo = digits(s + 5, 2)) < 1 || mo > 12 || s[7] != '-' ||
	    (d = digits(s + 8, 2)) < 1 || d > mdays[mo - 1] || s[10] != 'T')
		return false;
	if (mo == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)))
		return false;
	s += 11;
	if (digits(s, 2) < 0 || digits(s, 2) > 23 || s[2] != ':' || digits(s + 3, 2) < 0 ||
	    digits(s + 3, 2) > 59 || s[5] != ':' || digits(s + 6, 2) < 0 || digits(s + 6, 2) > 59)
		return false;
	s += 8;
	if (*s == '.') {
		if (s[1] < '0' || s[1] > '9')
			return false;
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	}
	if (*s == 'Z')
		return s[1] == '\0';
	return (*s == '+' || *s == '-') && digits(s + 1, 2) >= 0 && digits(s + 1, 2) <= 23 &&
	       s[3] == ':' && digits(s + 4, 2) >= 0 && digits(s + 4, 2) <= 59 && s[6] == '\0';
}

static int check_object(const cJSON *obj, const struct member *shape, const char *path, char *msg,
			size_t len);

/* "path[i]" into buf. The tables bound the depth ("[1].icons[2].sizes[3]"),
 * so this never fails in practice; -ENAMETOOLONG if it would be cut. */
static int index_path(char *buf, size_t size, const char *path, size_t i)
{
	int n = snprintf(buf, size, "%s[%zu]", path, i);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int want_string(const cJSON *v, const char *path, char *msg, size_t len)
{
	if (cJSON_IsString(v))
		return 0;
	return fail(msg, len, "%s: must be a string, not %s", path, gw_json_type_name(v));
}

static int check_mime(const cJSON *v, const char *path, const char *prefix, const char *what,
		      char *msg, size_t len)
{
	const char *s;

	if (want_string(v, path, msg, len) < 0)
		return -EINVAL;
	s = v->valuestring;
	if (!s[0])
		return fail(msg, len, "%s: must not be empty", path);
	if (!is_mime(s))
		return fail(msg, len, "%s: \"%.*s\" is not a MIME type (type/subtype)", path,
			    quote_len(s), s);
	if (prefix && strncasecmp(s, prefix, strlen(prefix)) != 0)
		return fail(msg, len, "%s: \"%.*s\" is not %s type (%s...)", path, quote_len(s), s,
			    what, prefix);
	return 0;
}

static int check_value(const cJSON *v, enum kind kind, const char *path, char *msg, size_t len)
{
	char sub[160];
	const cJSON *e;
	size_t i = 0;

	switch (kind) {
	case K_TYPE: /* checked by the caller */
		return 0;
	case K_STRING:
		return want_string(v, path, msg, len);
	case K_DATA:
	case K_BLOB:
		if (want_string(v, path, msg, len) < 0)
			return -EINVAL;
		if (kind == K_DATA && !v->valuestring[0])
			return fail(msg, len, "%s: must not be empty", path);
		if (!gw_base64_valid(v->valuestring, strlen(v->valuestring)))
			return fail(msg, len, "%s: not base64", path);
		return 0;
	case K_MIME:
		return check_mime(v, path, NULL, NULL, msg, len);
	case K_MIME_IMAGE:
		return check_mime(v, path, "image/", "an image", msg, len);
	case K_MIME_AUDIO:
		return check_mime(v, path, "audio/", "an audio", msg, len);
	case K_URI:
		if (want_string(v, path, msg, len) < 0)
			return -EINVAL;
		if (!is_uri(v->valuestring))
			return fail(msg, len,
				    "%s: \"%.*s\" is not a URI (it needs a scheme, as in "
				    "file:///path or https://host/path)",
				    path, quote_len(v->valuestring), v->valuestring);
		return 0;
	case K_SIZE:
		/* Whole bytes, and exactly representable in a double. */
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
		    v->valuedouble > 9007199254740991.0 || v->valuedouble != floor(v->valuedouble))
			return fail(msg, len, "%s: must be a whole number of bytes (0 or more)",
				    path);
		return 0;
	case K_META:
		if (!cJSON_IsObject(v))
			return fail(msg, len, "%s: must be an object, not %s", path, gw_json_type_name(v));
		return 0;
	case K_ANNOTATIONS:
		if (!cJSON_IsObject(v))
			return fail(msg, len, "%s: must be an object, not %s", path, gw_json_type_name(v));
		return check_object(v, annotations, path, msg, len);
	case K_AUDIENCE:
		if (!cJSON_IsArray(v))
			return fail(msg, len,
				    "%s: must be an array of \"user\" and \"assistant\", not %s",
				    path, gw_json_type_name(v));
		cJSON_ArrayForEach(e, v)
		{
			if (!cJSON_IsString(e) || (strcmp(e->valuestring, "user") != 0 &&
						   strcmp(e->valuestring, "assistant") != 0))
				return fail(msg, len, "%s[%zu]: must be \"user\" or \"assistant\"",
					    path, i);
			i++;
		}
		return 0;
	case K_PRIORITY:
		if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1))
			return fail(msg, len, "%s: must be a number from 0 to 1", path);
		return 0;
	case K_DATETIME:
		if (want_string(v, path, msg, len) < 0)
			return -EINVAL;
		if (!is_datetime(v->valuestring))
			return fail(msg, len,
				    "%s: \"%.*s\" is not an ISO 8601 date-time with a time zone "
				    "(2025-01-12T15:00:58Z)",
				    path, quote_len(v->valuestring), v->valuestring);
		return 0;
	case K_ICONS:
		if (!cJSON_IsArray(v))
			return fail(msg, len, "%s: must be an array of icons, not %s", path,
				    gw_json_type_name(v));
		cJSON_ArrayForEach(e, v)
		{
			if (index_path(sub, sizeof(sub), path, i++) < 0)
				return fail(msg, len, "%s: nested too deeply", path);
			if (!cJSON_IsObject(e))
				return fail(msg, len, "%s: must be an object, not %s", sub,
					    gw_json_type_name(e));
			if (check_object(e, icon, sub, msg, len) < 0)
				return -EINVAL;
		}
		return 0;
	case K_SIZES:
		if (!cJSON_IsArray(v))
			return fail(msg, len, "%s: must be an array of strings, not %s", path,
				    gw_json_type_name(v));
		cJSON_ArrayForEach(e, v)
		{
			if (index_path(sub, sizeof(sub), path, i++) < 0)
				return fail(msg, len, "%s: nested too deeply", path);
			if (want_string(e, sub, msg, len) < 0)
				return -EINVAL;
		}
		return 0;
	case K_THEME:
		if (!cJSON_IsString(v) ||
		    (strcmp(v->valuestring, "light") != 0 && strcmp(v->valuestring, "dark") != 0))
			return fail(msg, len, "%s: must be \"light\" or \"dark\"", path);
		return 0;
	case K_RESOURCE: {
		const cJSON *text, *blob;

		if (!cJSON_IsObject(v))
			return fail(msg, len, "%s: must be an object, not %s", path, gw_json_type_name(v));
		if (check_object(v, resource_contents, path, msg, len) < 0)
			return -EINVAL;
		text = cJSON_GetObjectItemCaseSensitive(v, "text");
		blob = cJSON_GetObjectItemCaseSensitive(v, "blob");
		if (text && blob)
			return fail(msg, len,
				    "%s: has both \"text\" and \"blob\"; exactly one is allowed",
				    path);
		if (!text && !blob)
			return fail(msg, len, "%s: needs \"text\" (a string) or \"blob\" (base64)",
				    path);
		return 0;
	}
	}
	return fail(msg, len, "%s: unexpected value", path);
}

/* Checks obj's members against shape: unknown and duplicate members first (a
 * misspelt key is then named as such, not as a missing one), then each known
 * member in the table's order. */
static int check_object(const cJSON *obj, const struct member *shape, const char *path, char *msg,
			size_t len)
{
	const cJSON *m;
	char sub[160];

	cJSON_ArrayForEach(m, obj)
	{
		const struct member *k;

		for (k = shape; k->name; k++)
			if (strcmp(k->name, m->string) == 0)
				break;
		if (!k->name) {
			char known[256] = "";
			size_t used = 0;

			for (k = shape; k->name; k++) {
				int w = snprintf(known + used, sizeof(known) - used, "%s%s",
						 used ? ", " : "", k->name);
				if (w > 0 && (size_t)w < sizeof(known) - used)
					used += (size_t)w;
			}
			return fail(msg, len, "%s.%.*s: unknown member (known: %s)", path,
				    quote_len(m->string), m->string, known);
		}
		/* gw_json_parse refuses duplicates; a tree built otherwise
		 * could still hold two, and a client would see only one. */
		for (const cJSON *p = obj->child; p != m; p = p->next)
			if (strcmp(p->string, m->string) == 0)
				return fail(msg, len, "%s.%s: duplicate member", path, k->name);
	}
	for (const struct member *k = shape; k->name; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, k->name);

		snprintf(sub, sizeof(sub), "%s.%s", path, k->name);
		if (!v) {
			if (k->required)
				return fail(msg, len, "%s: missing", sub);
			continue;
		}
		if (check_value(v, k->kind, sub, msg, len) < 0)
			return -EINVAL;
	}
	return 0;
}

int gw_content_validate(const cJSON *arr, char *msg, size_t len)
{
	const cJSON *b;
	size_t i = 0;

	if (!cJSON_IsArray(arr))
		return fail(msg, len, "must be an array of content blocks, not %s", gw_json_type_name(arr));
	cJSON_ArrayForEach(b, arr)
	{
		char path[32];
		const cJSON *type;
		size_t t;

		snprintf(path, sizeof(path), "[%zu]", i++);
		if (!cJSON_IsObject(b))
			return fail(msg, len, "%s: a content block must be an object, not %s", path,
				    gw_json_type_name(b));
		type = cJSON_GetObjectItemCaseSensitive(b, "type");
		if (!type)
			return fail(msg, len,
				    "%s.type: missing (text, image, audio, resource_link or "
				    "resource)",
				    path);
		if (!cJSON_IsString(type))
			return fail(msg, len, "%s.type: must be a string, not %s", path,
				    gw_json_type_name(type));
		for (t = 0; t < NTYPES; t++)
			if (strcmp(block_types[t].type, type->valuestring) == 0)
				break;
		if (t == NTYPES)
			return fail(msg, len,
				    "%s.type: unknown content type \"%.*s\" (known: text, image, "
				    "audio, resource_link, resource)",
				    path, quote_len(type->valuestring), type->valuestring);
		if (check_object(b, block_types[t].shape, path, msg, len) < 0)
			return -EINVAL;
	}
	if (len)
		msg[0] = '\0';
	return 0;
}
