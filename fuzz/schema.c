/* The inputSchema checker and validator (gateway/schema.c): a schema and an
 * instance from one input, split at the first NUL byte (which JSON text
 * cannot contain); without one the schema is its own instance. Both are
 * parsed as the gateway parses them (manifests and messages nest at most 64
 * deep).
 *
 * Properties: gw_schema_check accepts, or refuses naming a node of the schema
 * and saying why; gw_schema_validate accepts, or refuses with a message that
 * is valid UTF-8 (it goes into a JSON result); the verdict is the same when
 * asked twice, and the same for {"x": instance} against a schema that puts
 * the schema under property "x". Time is bounded by libFuzzer's -timeout
 * (fuzz/run sets it): patterns are translated into POSIX regexes and run by
 * glibc, where a pattern that backtracks without bound would show. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "gateway/json.h"
#include "gateway/schema.h"

#define DEPTH 64

static int parse(const uint8_t *data, size_t n, struct gw_json_doc *doc)
{
	struct gw_json_error err;

	return gw_json_parse((const char *)data, n, DEPTH, doc, &err);
}

static int validate(const cJSON *schema, const cJSON *value, char *msg, size_t msglen)
{
	int r = gw_schema_validate(schema, value, "arguments", msg, msglen);

	CHECK(r == 0 || r == -EINVAL || r == -ENOMEM, "gw_schema_validate returned %d", r);
	if (r < 0) {
		CHECK(msg[0] != '\0', "a refusal without a message");
		CHECK(fuzz_utf8_ok(msg, strlen(msg)), "a message that is not UTF-8: %s", msg);
	}
	return r;
}

/* {"type": "object", "properties": {"x": schema}, "required": ["x"]}, and
 * {"x": value}, made of references: nothing is copied or freed twice. */
static void wrapped(const cJSON *schema, const cJSON *value, int verdict)
{
	cJSON *ws = cJSON_CreateObject(), *props = cJSON_CreateObject();
	cJSON *req = cJSON_CreateArray(), *wv = cJSON_CreateObject();
	const cJSON *bad = NULL;
	char msg[512];

	if (!ws || !props || !req || !wv)
		abort();
	cJSON_AddStringToObject(ws, "type", "object");
	cJSON_AddItemReferenceToObject(props, "x", (cJSON *)schema);
	cJSON_AddItemToObject(ws, "properties", props);
	cJSON_AddItemToArray(req, cJSON_CreateString("x"));
	cJSON_AddItemToObject(ws, "required", req);
	cJSON_AddItemReferenceToObject(wv, "x", (cJSON *)value);
	/* One level deeper: it may be refused where the schema was not. */
	if (gw_schema_check(ws, &bad, msg, sizeof(msg)) == 0) {
		int r = validate(ws, wv, msg, sizeof(msg));
		CHECK((r == 0) == (verdict == 0),
		      "the schema says %d, the same schema under a property %d (%s)", verdict, r,
		      msg);
	}
	cJSON_Delete(ws);
	cJSON_Delete(wv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_json_doc sdoc = {0}, vdoc = {0};
	const uint8_t *s, *v;
	size_t slen, vlen;
	const cJSON *bad = NULL, *value;
	char msg[512], msg2[512];
	int r, r2;

	fuzz_split(data, size, 0, &s, &slen, &v, &vlen);
	if (parse(s, slen, &sdoc) < 0)
		return 0;
	r = gw_schema_check(sdoc.root, &bad, msg, sizeof(msg));
	if (r < 0) {
		CHECK(r == -EINVAL, "gw_schema_check returned %d", r);
		CHECK(bad && gw_json_pos_of(&sdoc, bad),
		      "a refusal that names no node of the schema");
		CHECK(msg[0] != '\0' && fuzz_utf8_ok(msg, strlen(msg)), "a bad message: %s", msg);
		goto out;
	}
	value = sdoc.root;
	if (v) {
		if (parse(v, vlen, &vdoc) < 0)
			goto out;
		value = vdoc.root;
	}
	r = validate(sdoc.root, value, msg, sizeof(msg));
	r2 = validate(sdoc.root, value, msg2, sizeof(msg2));
	CHECK(r == r2 && (r == 0 || strcmp(msg, msg2) == 0), "two answers: %s / %s", msg, msg2);
	if (r != -ENOMEM)
		wrapped(sdoc.root, value, r);
out:
	gw_json_doc_free(&sdoc);
	gw_json_doc_free(&vdoc);
	return 0;
}
