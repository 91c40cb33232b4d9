/* JSON-RPC 2.0 messages: classify, validate, and encode. Pure. */
#ifndef TOOLCELL_GATEWAY_JSONRPC_H
#define TOOLCELL_GATEWAY_JSONRPC_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "gateway/json.h"

#define GW_RPC_PARSE_ERROR (-32700)
#define GW_RPC_INVALID_REQUEST (-32600)
#define GW_RPC_METHOD_NOT_FOUND (-32601)
#define GW_RPC_INVALID_PARAMS (-32602)
#define GW_RPC_INTERNAL_ERROR (-32603)

/* Deepest nesting accepted in a message. */
#define GW_RPC_MAX_DEPTH 64

enum gw_rpc_kind { GW_RPC_REQUEST, GW_RPC_NOTIFICATION, GW_RPC_RESPONSE };

struct gw_rpc_msg {
	enum gw_rpc_kind kind;
	char *id_raw;	     /* the id's exact JSON text (requests, responses); owned */
	const cJSON *id;     /* borrowed from doc */
	const char *method;  /* borrowed from doc; NULL for responses */
	const cJSON *params; /* borrowed from doc; may be NULL */
	struct gw_json_doc doc;
};

/* Parses and validates one message from buf[0..len). Returns 0 and fills *out
 * (release with gw_rpc_msg_free), or a JSON-RPC error code (GW_RPC_PARSE_ERROR
 * or GW_RPC_INVALID_REQUEST) with a message in msg; *id_raw then holds the id
 * if one could be read (caller frees), else NULL. */
int gw_rpc_parse(const char *buf, size_t len, struct gw_rpc_msg *out, char **id_raw, char *msg,
		 size_t msglen);
void gw_rpc_msg_free(struct gw_rpc_msg *m);

/* Encoders. Each returns a malloc'd single-line JSON text (no newline), or NULL
 * on ENOMEM, and takes ownership of the cJSON argument. id_raw NULL encodes a
 * null id. */
char *gw_rpc_result(const char *id_raw, cJSON *result);
char *gw_rpc_error(const char *id_raw, int code, const char *message, cJSON *data);
char *gw_rpc_notification(const char *method, cJSON *params);

#endif
