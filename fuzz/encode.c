/* The output encoder: a tool's stdout and stderr are any bytes; what reaches
 * the client is gw_utf8_sanitize's text inside a JSON message (gateway/utf8.c,
 * then cJSON's printer, as gateway/mcp.c builds results and progress).
 *
 * Properties: the text is valid UTF-8 (by a decoder written here) with no NUL;
 * valid input without NUL comes back unchanged; streaming (the input cut at
 * any point, the incomplete tail held over, as progress does) gives exactly
 * the text of the whole; gw_utf8_valid_prefix agrees with the decoder; and
 * the JSON-RPC line carrying the text is one line of valid UTF-8 that the
 * strict parser (gateway/json.c) reads back to the same text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "gateway/json.h"
#include "gateway/jsonrpc.h"
#include "gateway/utf8.h"

static void check_text(const char *text)
{
	size_t n = strlen(text);

	CHECK(fuzz_utf8_ok(text, n), "sanitized text is not UTF-8");
}

/* Longest valid prefix that does not end inside a sequence, by the decoder. */
static size_t reference_prefix(const char *s, size_t n)
{
	size_t best = 0;

	/* A valid prefix ends on a sequence boundary: try each end, longest
	 * first would be quadratic, so walk with the decoder over growing
	 * prefixes of at most 4 bytes beyond the last good end. */
	for (size_t end = 1; end <= n; end++) {
		if (end - best > 4)
			break;
		if (fuzz_utf8_ok(s + best, end - best))
			best = end;
	}
	return best;
}

static void roundtrip(const char *text)
{
	cJSON *params = cJSON_CreateObject();
	struct gw_json_doc doc = {0};
	struct gw_json_error err;
	char *line;
	const cJSON *v;

	if (!params)
		abort();
	cJSON_AddStringToObject(params, "level", "info");
	cJSON_AddStringToObject(params, "data", text);
	line = gw_rpc_notification("notifications/message", params);
	CHECK(line != NULL, "the notification did not encode");
	CHECK(strchr(line, '\n') == NULL, "the notification is more than one line");
	CHECK(fuzz_utf8_ok(line, strlen(line)), "the notification is not UTF-8");
	CHECK(gw_json_parse(line, strlen(line), 64, &doc, &err) == 0,
	      "the notification does not parse back: %u:%u: %s", err.line, err.col, err.msg);
	v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc.root, "params"),
					     "data");
	CHECK(cJSON_IsString(v) && strcmp(v->valuestring, text) == 0,
	      "the text reads back different");
	gw_json_doc_free(&doc);
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char *whole, *first, *second, *joined;
	size_t hold, cut, n;

	whole = gw_utf8_sanitize(s, size, NULL);
	CHECK(whole != NULL, "out of memory");
	check_text(whole);
	if (memchr(s, 0, size) == NULL && fuzz_utf8_ok(s, size))
		CHECK(strlen(whole) == size && memcmp(whole, s, size) == 0,
		      "valid text was changed");

	n = gw_utf8_valid_prefix(s, size);
	CHECK(n == reference_prefix(s, size), "valid prefix %zu, the decoder says %zu", n,
	      reference_prefix(s, size));

	/* Progress: the first chunk holds back an incomplete tail, which
	 * goes in front of the second. */
	cut = size ? data[0] % (size + 1) : 0;
	first = gw_utf8_sanitize(s, cut, &hold);
	CHECK(first && hold <= 3 && hold <= cut, "hold %zu of %zu", hold, cut);
	check_text(first);
	second = gw_utf8_sanitize(s + cut - hold, size - cut + hold, NULL);
	CHECK(second != NULL, "out of memory");
	joined = malloc(strlen(first) + strlen(second) + 1);
	if (!joined)
		abort();
	strcpy(joined, first);
	strcat(joined, second);
	CHECK(strcmp(joined, whole) == 0, "cut at %zu: streamed text differs from the whole", cut);

	roundtrip(whole);
	free(whole);
	free(first);
	free(second);
	free(joined);
	return 0;
}
