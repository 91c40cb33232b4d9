#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/jsonrpc.h"

void gw_rpc_msg_free(struct gw_rpc_msg *m)
{
	if (!m)
		return;
	free(m->id_raw);
	gw_json_doc_free(&m->doc);
	*m = (struct gw_rpc_msg){0};
}

/* The id's source text, echoed byte for byte: a client's 1.0, 1e3 or
 * "caf\u00e9" comes back exactly as sent. */
static char *raw_of(const struct gw_json_doc *doc, const char *buf, const cJSON *node)
{
	const struct gw_json_pos *p = gw_json_pos_of(doc, node);

	return p ? strndup(buf + p->start, p->end - p->start) : NULL;
}

int gw_rpc_parse(const char *buf, size_t len, struct gw_rpc_msg *out, char **id_raw, char *msg,
		 size_t msglen)
{
	struct gw_rpc_msg m = {0};
	struct gw_json_error jerr;
	const cJSON *root, *v, *id;
	bool has_result, has_error;

	*id_raw = NULL;
	if (gw_json_parse(buf, len, GW_RPC_MAX_DEPTH, &m.doc, &jerr) < 0) {
		snprintf(msg, msglen, "parse error at %u:%u: %s", jerr.line, jerr.col, jerr.msg);
		return GW_RPC_PARSE_ERROR;
	}
	root = m.doc.root;
	if (cJSON_IsArray(root)) {
		snprintf(msg, msglen, "batches are not supported: send one message at a time");
		goto invalid;
	}
	if (!cJSON_IsObject(root)) {
		snprintf(msg, msglen, "a JSON-RPC message must be an object");
		goto invalid;
	}
	id = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (id && (cJSON_IsString(id) || cJSON_IsNumber(id)))
		*id_raw = raw_of(&m.doc, buf, id);
	v = cJSON_GetObjectItemCaseSensitive(root, "jsonrpc");
	if (!cJSON_IsString(v) || strcmp(v->valuestring, "2.0") != 0) {
		snprintf(msg, msglen, "\"jsonrpc\" must be \"2.0\"");
		goto invalid;
	}
	if (id && !cJSON_IsString(id) && !cJSON_IsNumber(id)) {
		snprintf(msg, msglen, "\"id\" must be a string or a number");
		goto invalid;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "method");
	has_result = cJSON_GetObjectItemCaseSensitive(root, "result") != NULL;
	has_error = cJSON_GetObjectItemCaseSensitive(root, "error") != NULL;
	if (v) {
		if (!cJSON_IsString(v)) {
			snprintf(msg, msglen, "\"method\" must be a string");
			goto invalid;
		}
		m.method = v->valuestring;
		m.params = cJSON_GetObjectItemCaseSensitive(root, "params");
		if (m.params && !cJSON_IsObject(m.params) && !cJSON_IsArray(m.params)) {
			snprintf(msg, msglen, "\"params\" must be an object");
			goto invalid;
		}
		m.kind = id ? GW_RPC_REQUEST : GW_RPC_NOTIFICATION;
	} else if (id && (has_result != has_error)) {
		m.kind = GW_RPC_RESPONSE;
	} else {
		snprintf(msg, msglen,
			 "not a request, notification or response: \"method\" is missing");
		goto invalid;
	}
	m.id = id;
	m.id_raw = *id_raw;
	*id_raw = NULL;
	*out = m;
	return 0;
invalid:
	gw_json_doc_free(&m.doc);
	return GW_RPC_INVALID_REQUEST;
}

static char *encode(cJSON *msg)
{
	char *s = msg ? cJSON_PrintUnformatted(msg) : NULL;

	cJSON_Delete(msg);
	return s;
}

static cJSON *envelope(const char *id_raw)
{
	cJSON *m = cJSON_CreateObject();

	if (!m)
		return NULL;
	cJSON_AddStringToObject(m, "jsonrpc", "2.0");
	if (id_raw)
		cJSON_AddItemToObject(m, "id", cJSON_CreateRaw(id_raw));
	else
		cJSON_AddNullToObject(m, "id");
	return m;
}

char *gw_rpc_result(const char *id_raw, cJSON *result)
{
	cJSON *m = envelope(id_raw);

	if (!m || !result) {
		cJSON_Delete(m);
		cJSON_Delete(result);
		return NULL;
	}
	cJSON_AddItemToObject(m, "result", result);
	return encode(m);
}

char *gw_rpc_error(const char *id_raw, int code, const char *message, cJSON *data)
{
	cJSON *m = envelope(id_raw), *e = cJSON_CreateObject();

	if (!m || !e) {
		cJSON_Delete(m);
		cJSON_Delete(e);
		cJSON_Delete(data);
		return NULL;
	}
	cJSON_AddNumberToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", message);
	if (data)
		cJSON_AddItemToObject(e, "data", data);
	cJSON_AddItemToObject(m, "error", e);
	return encode(m);
}

char *gw_rpc_notification(const char *method, cJSON *params)
{
	cJSON *m = cJSON_CreateObject();

	if (!m) {
		cJSON_Delete(params);
		return NULL;
	}
	cJSON_AddStringToObject(m, "jsonrpc", "2.0");
	cJSON_AddStringToObject(m, "method", method);
	if (params)
		cJSON_AddItemToObject(m, "params", params);
	return encode(m);
}
