/* Strict JSON parsing into cJSON trees, remembering where every value came from.
 *
 * cJSON's own parser accepts duplicate keys, looks keys up case-insensitively and
 * keeps no positions. Manifests need "FILE:LINE:COL: message" diagnostics and the
 * JSON-RPC layer must reject ambiguous input, so both go through this parser. */
#ifndef TOOLCELL_GATEWAY_JSON_H
#define TOOLCELL_GATEWAY_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Where one value sits in the source. Lines and columns count from 1; columns
 * count bytes. For object members, key_line/key_col locate the key, otherwise
 * they equal line/col. [start, end) are byte offsets of the value's own text. */
struct gw_json_pos {
	const cJSON *node;
	unsigned line, col;
	unsigned key_line, key_col;
	size_t start, end;
};

struct gw_json_doc {
	cJSON *root;
	struct gw_json_pos *pos; /* sorted by node address for gw_json_pos_of */
	size_t npos;
};

struct gw_json_error {
	unsigned line, col;
	char msg[192];
};

/* Parses exactly one JSON value from buf[0..len) (no NUL terminator needed;
 * surrounding whitespace allowed). Rejects: duplicate keys within an object
 * (compared byte-exactly), nesting deeper than max_depth, invalid UTF-8, strings
 * containing U+0000, trailing data, and everything RFC 8259 forbids. Lone UTF-16
 * surrogates in \u escapes become U+FFFD.
 * On success returns 0 and fills *out (caller owns it: gw_json_doc_free).
 * On failure returns -EINVAL (or -ENOMEM) and fills *err; *out is untouched. */
int gw_json_parse(const char *buf, size_t len, unsigned max_depth, struct gw_json_doc *out,
		  struct gw_json_error *err);

/* Frees the tree and the position table. A zeroed doc is a no-op. */
void gw_json_doc_free(struct gw_json_doc *doc);

/* Position of a node of doc->root (borrowed), or NULL for a node not in it. */
const struct gw_json_pos *gw_json_pos_of(const struct gw_json_doc *doc, const cJSON *node);

/* One byte for a message: itself when printable ASCII, else "\\xNN". */
const char *gw_byte_repr(unsigned char c, char out[static 5]);

/* "a string", "an array", ... for messages. */
const char *gw_json_type_name(const cJSON *v);

#endif
