// Node preload that lets the conformance suite talk to a toolcell that wants a
// bearer token: the suite has no option for one. It adds
// "Authorization: Bearer $MCP_BEARER_TOKEN" to every request sent through
// undici's global dispatcher, which Node's built-in fetch (the MCP SDK client,
// the suite's raw fetch calls) and undici.request (the dns-rebinding scenario)
// both use.
//
//   MCP_BEARER_TOKEN=T NODE_OPTIONS="--import /abs/path/bearer-preload.mjs" node ...
//
// 'undici' resolves from integration/node_modules (a dependency of the suite).
import { Agent, setGlobalDispatcher } from 'undici';

const token = process.env.MCP_BEARER_TOKEN;
if (token) {
	const value = `Bearer ${token}`;
	const withAuth = (headers) => {
		if (headers == null)
			return { authorization: value };
		if (Array.isArray(headers)) // [k, v, k, v, ...] or [[k, v], ...]
			return Array.isArray(headers[0]) ? [...headers, ['authorization', value]]
				: [...headers, 'authorization', value];
		if (typeof headers[Symbol.iterator] === 'function') // Headers, Map
			return [...headers, ['authorization', value]];
		return { ...headers, authorization: value };
	};
	setGlobalDispatcher(new Agent().compose((dispatch) => (opts, handler) =>
		dispatch({ ...opts, headers: withAuth(opts.headers) }, handler)));
}
