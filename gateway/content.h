/* MCP content blocks written by a tool itself ("output": "content"): checked
 * strictly against the shapes of MCP 2025-11-25 before a client sees them, so
 * a tool's mistake becomes a readable tool error rather than a result the
 * client's own validation throws away. Pure: no I/O, no allocation. */
#ifndef TOOLCELL_GATEWAY_CONTENT_H
#define TOOLCELL_GATEWAY_CONTENT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* Checks that arr (borrowed) is a JSON array of content blocks: text, image,
 * audio, resource_link and resource, each with exactly the members MCP
 * defines (annotations and _meta allowed on every block). An empty array is
 * valid. Returns 0, or -EINVAL with msg naming the first problem by its path,
 * e.g. "[1].data: not base64". msg is always NUL-terminated when len > 0. */
int gw_content_validate(const cJSON *arr, char *msg, size_t len);

/* Is s[0..n) standard base64 (RFC 4648 section 4): only A-Z a-z 0-9 + /, a
 * length that is a multiple of 4, and "=" only as the last one or two
 * characters? No whitespace, no line breaks, no URL-safe alphabet. The empty
 * string is valid (it encodes zero bytes). */
bool gw_base64_valid(const char *s, size_t n);

#endif
