/* Tests for gateway/content.c: the content blocks an "output": "content" tool
 * prints, every block type valid and each kind of mistake named by its path,
 * and the base64 check (RFC 4648 section 4, with its test vectors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "gateway/content.h"
#include "gateway/json.h"
#include "gateway/utf8.h"

/* The 1x1 PNG used across the tests. */
#define PNG                                                                                        \
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5E" \
	"rkJggg=="

/* Parses JSON written with ' for " (as the gateway does: strict, no duplicate
 * keys) and validates it. Returns the validator's result; msg gets its message. */
static int check(const char *text, char *msg, size_t len)
{
	char *s = strdup(text);
	struct gw_json_doc doc = {0};
	struct gw_json_error jerr;
	int r;

	assert_non_null(s);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	if (gw_json_parse(s, strlen(s), 64, &doc, &jerr) < 0)
		fail_msg("test JSON does not parse (%u:%u: %s): %s", jerr.line, jerr.col, jerr.msg,
			 text);
	free(s);
	r = gw_content_validate(doc.root, msg, len);
	gw_json_doc_free(&doc);
	return r;
}

static void valid(const char *text)
{
	char msg[512] = "unset";

	if (check(text, msg, sizeof(msg)) != 0)
		fail_msg("refused: %s\n  because: %s", text, msg);
	assert_string_equal(msg, "");
}

static void invalid(const char *text, const char *want)
{
	char msg[512] = "";

	if (check(text, msg, sizeof(msg)) != -EINVAL)
		fail_msg("accepted: %s (wanted: %s)", text, want);
	if (strcmp(msg, want) != 0)
		fail_msg("for %s\n  got:  %s\n  want: %s", text, msg, want);
}

static void test_base64(void **state)
{
	/* RFC 4648 section 10 test vectors, and the empty string (zero bytes). */
	static const char *const good[] = {
	    "",
	    "Zg==",
	    "Zm8=",
	    "Zm9v",
	    "Zm9vYg==",
	    "Zm9vYmE=",
	    "Zm9vYmFy",
	    "+/+/",
	    "AAAA",
	    PNG,
	    /* Non-zero pad bits decode everywhere (RFC 4648 3.5 lets a decoder
	     * choose); they are not refused. */
	    "Zh==",
	};
	static const char *const bad[] = {
	    "Zg",	   /* padding missing: length % 4 == 2 */
	    "Zm8",	   /* length % 4 == 3 */
	    "Z",	   /* length % 4 == 1 */
	    "Zg=",	   /* padding short */
	    "Zg===",	   /* padding too long */
	    "====",	   /* padding only */
	    "Z===",	   /* three pads */
	    "=Zg=",	   /* pad first */
	    "Zg=a",	   /* pad in the middle */
	    "Zg==Zg==",	   /* pad inside (concatenated encodings) */
	    "Zm9v\nYmFy",  /* line break (MIME style) */
	    "Zm9v YmE=",   /* blank */
	    " Zm9v",	   /* leading blank */
	    "Zm9-",	   /* URL-safe alphabet */
	    "Zm9_",	   /* URL-safe alphabet */
	    "Zm9!",	   /* not in any alphabet */
	    "Zm9\xc3\xa9", /* non-ASCII */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!gw_base64_valid(good[i], strlen(good[i])))
			fail_msg("refused base64 \"%s\"", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (gw_base64_valid(bad[i], strlen(bad[i])))
			fail_msg("accepted base64 \"%s\"", bad[i]);
	/* The length counts, not a NUL: an embedded NUL is not base64. */
	assert_false(gw_base64_valid("Zg\0=", 4));
	assert_true(gw_base64_valid("Zm9vYg==", 4)); /* the prefix "Zm9v" */
}

static void test_valid_blocks(void **state)
{
	(void)state;
	valid("[]");
	valid("[{'type':'text','text':''}]");
	valid("[{'type':'text','text':'hello ✓'},{'type':'text','text':'two'}]");
	valid("[{'type':'image','data':'" PNG "','mimeType':'image/png'}]");
	valid("[{'type':'image','data':'" PNG "','mimeType':'IMAGE/PNG'}]");
	valid("[{'type':'audio','data':'UklGRg==','mimeType':'audio/wav'}]");
	valid("[{'type':'resource_link','uri':'file:///ws/a.txt','name':'a.txt'}]");
	valid("[{'type':'resource_link','uri':'https://example.com/x','name':'x','title':'X',"
	      "'description':'an x','mimeType':'text/plain; charset=utf-8','size':0,"
	      "'icons':[{'src':'data:image/png;base64," PNG "','mimeType':'image/png',"
	      "'sizes':['48x48','any'],'theme':'dark'},{'src':'https://example.com/i.svg'}]}]");
	valid("[{'type':'resource_link','uri':'urn:isbn:0451450523','name':'','size':12345678}]");
	valid("[{'type':'resource','resource':{'uri':'file:///a.txt','text':'x'}}]");
	valid("[{'type':'resource','resource':{'uri':'file:///a.txt','mimeType':'text/plain',"
	      "'text':''}}]");
	valid("[{'type':'resource','resource':{'uri':'file:///a.png','mimeType':'image/png',"
	      "'blob':'" PNG "','_meta':{'k':1}}}]");
	valid("[{'type':'resource','resource':{'uri':'file:///empty','blob':''}}]");
	/* annotations and _meta on every kind of block */
	valid("[{'type':'text','text':'t','annotations':{},'_meta':{}},"
	      "{'type':'image','data':'" PNG "','mimeType':'image/png','_meta':{'a':{'b':[1]}},"
	      "'annotations':{'audience':['user','assistant'],'priority':0.5,"
	      "'lastModified':'2025-01-12T15:00:58Z'}},"
	      "{'type':'audio','data':'AAAA','mimeType':'audio/mpeg','annotations':{'audience':[],"
	      "'priority':0},'_meta':{}},"
	      "{'type':'resource_link','uri':'a:b','name':'n','annotations':{'priority':1},"
	      "'_meta':{}},"
	      "{'type':'resource','resource':{'uri':'a:b','text':''},'annotations':"
	      "{'lastModified':'2024-02-29T23:59:59.123456+05:30'},'_meta':{}}]");
	valid("[{'type':'text','text':'t','annotations':{'lastModified':'2025-12-31T00:00:00-00:00'"
	      "}}]");
}

static void test_not_blocks(void **state)
{
	(void)state;
	invalid("{}", "must be an array of content blocks, not an object");
	invalid("'text'", "must be an array of content blocks, not a string");
	invalid("[1]", "[0]: a content block must be an object, not a number");
	invalid("[{'type':'text','text':'a'},[]]",
		"[1]: a content block must be an object, not an array");
	invalid("[{'text':'a'}]",
		"[0].type: missing (text, image, audio, resource_link or resource)");
	invalid("[{'type':null}]", "[0].type: must be a string, not null");
	invalid("[{'type':'video','data':'AAAA'}]",
		"[0].type: unknown content type \"video\" (known: text, image, audio, "
		"resource_link, resource)");
	/* Types are case-sensitive. */
	invalid("[{'type':'Text','text':'a'}]",
		"[0].type: unknown content type \"Text\" (known: text, image, audio, "
		"resource_link, resource)");
	/* Content of other MCP places is not a tool result's. */
	invalid("[{'type':'tool_use','name':'x','id':'1','input':{}}]",
		"[0].type: unknown content type \"tool_use\" (known: text, image, audio, "
		"resource_link, resource)");
}

static void test_members(void **state)
{
	(void)state;
	invalid("[{'type':'text'}]", "[0].text: missing");
	invalid("[{'type':'text','text':5}]", "[0].text: must be a string, not a number");
	invalid("[{'type':'text','text':'a','txt':'b'}]",
		"[0].txt: unknown member (known: type, text, annotations, _meta)");
	/* A misspelt required member is named as unknown, not as missing. */
	invalid("[{'type':'text','Text':'a'}]",
		"[0].Text: unknown member (known: type, text, annotations, _meta)");
	invalid("[{'type':'image','data':'AAAA','mimeType':'image/png','uri':'a:b'}]",
		"[0].uri: unknown member (known: type, data, mimeType, annotations, _meta)");
	invalid("[{'type':'text','text':'a','_meta':[]}]",
		"[0]._meta: must be an object, not an array");
	invalid("[{'type':'text','text':'a','annotations':null}]",
		"[0].annotations: must be an object, not null");
	invalid("[{'type':'text','text':'a','annotations':{'audience':'user'}}]",
		"[0].annotations.audience: must be an array of \"user\" and \"assistant\", not a "
		"string");
	invalid("[{'type':'text','text':'a','annotations':{'audience':['user','model']}}]",
		"[0].annotations.audience[1]: must be \"user\" or \"assistant\"");
	invalid("[{'type':'text','text':'a','annotations':{'priority':1.5}}]",
		"[0].annotations.priority: must be a number from 0 to 1");
	invalid("[{'type':'text','text':'a','annotations':{'priority':'high'}}]",
		"[0].annotations.priority: must be a number from 0 to 1");
	invalid("[{'type':'text','text':'a','annotations':{'lastModified':'yesterday'}}]",
		"[0].annotations.lastModified: \"yesterday\" is not an ISO 8601 date-time with a "
		"time zone (2025-01-12T15:00:58Z)");
	invalid("[{'type':'text','text':'a','annotations':{'lastModified':'2025-01-12T15:00:58'}}]",
		"[0].annotations.lastModified: \"2025-01-12T15:00:58\" is not an ISO 8601 "
		"date-time with a time zone (2025-01-12T15:00:58Z)");
	invalid(
	    "[{'type':'text','text':'a','annotations':{'lastModified':'2025-02-29T00:00:00Z'}}]",
	    "[0].annotations.lastModified: \"2025-02-29T00:00:00Z\" is not an ISO 8601 "
	    "date-time with a time zone (2025-01-12T15:00:58Z)");
	invalid(
	    "[{'type':'text','text':'a','annotations':{'lastModified':'2025-01-12T24:00:00Z'}}]",
	    "[0].annotations.lastModified: \"2025-01-12T24:00:00Z\" is not an ISO 8601 "
	    "date-time with a time zone (2025-01-12T15:00:58Z)");
	invalid(
	    "[{'type':'text','text':'a','annotations':{'lastModified':'2025-01-12T15:00:58.Z'}}]",
	    "[0].annotations.lastModified: \"2025-01-12T15:00:58.Z\" is not an ISO 8601 "
	    "date-time with a time zone (2025-01-12T15:00:58Z)");
	invalid(
	    "[{'type':'text','text':'a','annotations':{'lastModified':'2025-01-12T15:00:58Z '}}]",
	    "[0].annotations.lastModified: \"2025-01-12T15:00:58Z \" is not an ISO 8601 "
	    "date-time with a time zone (2025-01-12T15:00:58Z)");
	invalid("[{'type':'text','text':'a','annotations':{'priority':0,'color':'red'}}]",
		"[0].annotations.color: unknown member (known: audience, priority, lastModified)");
}

static void test_image_and_audio(void **state)
{
	(void)state;
	invalid("[{'type':'text','text':'a'},{'type':'image','data':'iVBORw0KGgo','mimeType':"
		"'image/png'}]",
		"[1].data: not base64");
	invalid("[{'type':'image','data':'" PNG "\\n','mimeType':'image/png'}]",
		"[0].data: not base64");
	invalid("[{'type':'image','data':'','mimeType':'image/png'}]",
		"[0].data: must not be empty");
	invalid("[{'type':'image','data':7,'mimeType':'image/png'}]",
		"[0].data: must be a string, not a number");
	invalid("[{'type':'image','mimeType':'image/png'}]", "[0].data: missing");
	invalid("[{'type':'image','data':'" PNG "'}]", "[0].mimeType: missing");
	invalid("[{'type':'image','data':'" PNG "','mimeType':''}]",
		"[0].mimeType: must not be empty");
	invalid("[{'type':'image','data':'" PNG "','mimeType':'png'}]",
		"[0].mimeType: \"png\" is not a MIME type (type/subtype)");
	invalid("[{'type':'image','data':'" PNG "','mimeType':'image/'}]",
		"[0].mimeType: \"image/\" is not a MIME type (type/subtype)");
	invalid("[{'type':'image','data':'" PNG "','mimeType':'image/png x'}]",
		"[0].mimeType: \"image/png x\" is not a MIME type (type/subtype)");
	invalid("[{'type':'image','data':'" PNG "','mimeType':'audio/png'}]",
		"[0].mimeType: \"audio/png\" is not an image type (image/...)");
	invalid("[{'type':'audio','data':'AAAA','mimeType':'image/png'}]",
		"[0].mimeType: \"image/png\" is not an audio type (audio/...)");
	invalid("[{'type':'audio','data':'AAA','mimeType':'audio/wav'}]", "[0].data: not base64");
}

static void test_resources(void **state)
{
	(void)state;
	invalid("[{'type':'resource_link','name':'a'}]", "[0].uri: missing");
	invalid("[{'type':'resource_link','uri':'file:///a'}]", "[0].name: missing");
	invalid("[{'type':'resource_link','uri':'a.txt','name':'a'}]",
		"[0].uri: \"a.txt\" is not a URI (it needs a scheme, as in file:///path or "
		"https://host/path)");
	invalid("[{'type':'resource_link','uri':'','name':'a'}]",
		"[0].uri: \"\" is not a URI (it needs a scheme, as in file:///path or "
		"https://host/path)");
	invalid("[{'type':'resource_link','uri':'1x:y','name':'a'}]",
		"[0].uri: \"1x:y\" is not a URI (it needs a scheme, as in file:///path or "
		"https://host/path)");
	invalid("[{'type':'resource_link','uri':'a:b','name':'a','size':-1}]",
		"[0].size: must be a whole number of bytes (0 or more)");
	invalid("[{'type':'resource_link','uri':'a:b','name':'a','size':1.5}]",
		"[0].size: must be a whole number of bytes (0 or more)");
	invalid("[{'type':'resource_link','uri':'a:b','name':'a','size':'12'}]",
		"[0].size: must be a whole number of bytes (0 or more)");
	invalid("[{'type':'resource_link','uri':'a:b','name':'a','title':null}]",
		"[0].title: must be a string, not null");
	invalid("[{'type':'resource_link','uri':'a:b','name':'a','mimeType':'text'}]",
		"[0].mimeType: \"text\" is not a MIME type (type/subtype)");
	invalid("[{'type':'resource_link','uri':'a:b','name':'a','text':'x'}]",
		"[0].text: unknown member (known: type, uri, name, title, description, mimeType, "
		"size, icons, annotations, _meta)");
	invalid("[{'type':'resource_link','uri':'a:b','name':'a','icons':[{'src':'a:b','theme':"
		"'blue'}]}]",
		"[0].icons[0].theme: must be \"light\" or \"dark\"");
	invalid("[{'type':'resource_link','uri':'a:b','name':'a','icons':[{'src':'a:b'},{}]}]",
		"[0].icons[1].src: missing");
	invalid("[{'type':'resource_link','uri':'a:b','name':'a','icons':[{'src':'a:b','sizes':"
		"['1x1',2]}]}]",
		"[0].icons[0].sizes[1]: must be a string, not a number");

	invalid("[{'type':'resource'}]", "[0].resource: missing");
	invalid("[{'type':'resource','resource':'file:///a'}]",
		"[0].resource: must be an object, not a string");
	invalid("[{'type':'resource','resource':{'text':'x'}}]", "[0].resource.uri: missing");
	invalid("[{'type':'resource','resource':{'uri':'a:b'}}]",
		"[0].resource: needs \"text\" (a string) or \"blob\" (base64)");
	invalid("[{'type':'resource','resource':{'uri':'a:b','text':'x','blob':'AAAA'}}]",
		"[0].resource: has both \"text\" and \"blob\"; exactly one is allowed");
	invalid("[{'type':'resource','resource':{'uri':'a:b','blob':'AAAA='}}]",
		"[0].resource.blob: not base64");
	invalid("[{'type':'resource','resource':{'uri':'a:b','text':null}}]",
		"[0].resource.text: must be a string, not null");
	invalid("[{'type':'resource','resource':{'uri':'a:b','text':'x','name':'a'}}]",
		"[0].resource.name: unknown member (known: uri, mimeType, text, blob, _meta)");
	invalid("[{'type':'resource','resource':{'uri':'a:b','text':'x','annotations':{}}}]",
		"[0].resource.annotations: unknown member (known: uri, mimeType, text, blob, "
		"_meta)");
	invalid("[{'type':'resource','resource':{'uri':'a:b','text':'x'},'uri':'a:b'}]",
		"[0].uri: unknown member (known: type, resource, annotations, _meta)");
}

/* Trees the strict parser would refuse, and messages that must stay valid
 * UTF-8 however they are cut. */
static void test_robustness(void **state)
{
	char msg[512], tiny[11];
	cJSON *arr = cJSON_CreateArray(), *b = cJSON_CreateObject();
	char key[200];

	(void)state;
	/* Two members with one name: a client would see only one of them. */
	cJSON_AddItemToArray(arr, b);
	cJSON_AddStringToObject(b, "type", "text");
	cJSON_AddStringToObject(b, "text", "a");
	cJSON_AddStringToObject(b, "text", "b");
	assert_int_equal(gw_content_validate(arr, msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, "[0].text: duplicate member");
	cJSON_Delete(arr);

	/* A long unknown name of two-byte characters is quoted whole
	 * characters only, and a short buffer does not split one either. */
	arr = cJSON_CreateArray();
	b = cJSON_CreateObject();
	cJSON_AddItemToArray(arr, b);
	cJSON_AddStringToObject(b, "type", "text");
	cJSON_AddStringToObject(b, "text", "a");
	key[0] = 'x';
	for (size_t i = 1; i + 2 < sizeof(key); i += 2) {
		memcpy(key + i, "\xc3\xa9", 2);
		key[i + 2] = '\0';
	}
	cJSON_AddStringToObject(b, key, "v");
	assert_int_equal(gw_content_validate(arr, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(gw_utf8_valid_prefix(msg, strlen(msg)), strlen(msg));
	assert_non_null(strstr(msg, ": unknown member (known: type, text, annotations, _meta)"));
	assert_int_equal(strncmp(msg, "[0].x\xc3\xa9", 7), 0);
	assert_true(strlen(msg) < 4 + 64 + 60);
	assert_int_equal(gw_content_validate(arr, tiny, sizeof(tiny)), -EINVAL);
	assert_int_equal(gw_utf8_valid_prefix(tiny, strlen(tiny)), strlen(tiny));
	assert_string_equal(tiny, "[0].x\xc3\xa9\xc3\xa9"); /* not "[0].xéé\xc3" */
	cJSON_Delete(arr);

	/* No buffer at all is fine. */
	arr = cJSON_CreateArray();
	assert_int_equal(gw_content_validate(arr, NULL, 0), 0);
	cJSON_AddItemToArray(arr, cJSON_CreateNull());
	assert_int_equal(gw_content_validate(arr, NULL, 0), -EINVAL);
	cJSON_Delete(arr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64),	    cmocka_unit_test(test_valid_blocks),
	    cmocka_unit_test(test_not_blocks),	    cmocka_unit_test(test_members),
	    cmocka_unit_test(test_image_and_audio), cmocka_unit_test(test_resources),
	    cmocka_unit_test(test_robustness),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
