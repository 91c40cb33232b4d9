// Abuse of the Streamable HTTP transport: hostile JSON (100,000-deep nesting,
// invalid UTF-8, duplicate keys, ids of every JSON type), while the gateway
// must answer each with the right JSON-RPC error or result, never crash, and
// keep serving.
//
//   TOOLCELL_BIN, TOOLCELL_SOURCE_DIR: see reliability.mjs
//
// Run: node --test abuse.test.mjs   (CMake: ctest -R integration_abuse)

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { BIN, Gateway, HttpSession, makeScratch } from './reliability.mjs';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The answer is one JSON-RPC message in valid UTF-8; returns it. */
function message(r) {
	assert.ok(r.status === 200 || r.status === 400, `HTTP ${r.status} ${r.text}`);
	assert.equal(r.headers['content-type'], 'application/json');
	return JSON.parse(utf8.decode(r.raw));
}

describe('hostile JSON', () => {
	let s, gw, ses;
	before(async () => {
		assert.ok(fs.existsSync(BIN), `toolcell binary not found at ${BIN} (set TOOLCELL_BIN)`);
		s = makeScratch('abuse-json', ['echo_tmp']);
		gw = await Gateway.start(s, { http: true });
		ses = await new HttpSession(gw).init();
	});
	after(async () => {
		await ses?.close();
		gw?.kill();
		s?.remove();
	});

	const post = (body) => ses.post(body);
	const ping = { jsonrpc: '2.0', id: 'alive', method: 'ping' };
	async function assertServing() {
		const r = await ses.post(ping);
		assert.deepEqual(r.json, { jsonrpc: '2.0', id: 'alive', result: {} });
	}
	function assertError(r, code, messageRe) {
		const m = message(r);
		assert.equal(m.id, null, r.text);
		assert.equal(m.error.code, code, r.text);
		assert.match(m.error.message, messageRe);
	}

	test('100,000-deep nesting: a parse error, in the body, in params, in arguments', async () => {
		const n = 100000;
		const arrays = '['.repeat(n) + ']'.repeat(n);
		const objects = `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
		assertError(await post(arrays), -32700, /^parse error at 1:65: nesting deeper than 64 levels$/);
		assertError(await post('['.repeat(n)), -32700, /nesting deeper than 64 levels/);
		assertError(await post(`{"jsonrpc":"2.0","id":9,"method":"ping","params":{"x":${arrays}}}`), -32700, /nesting deeper than 64 levels/);
		assertError(await post(`{"jsonrpc":"2.0","id":9,"method":"ping","params":${objects}}`), -32700, /nesting deeper than 64 levels/);
		assertError(await post(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo_tmp","arguments":{"text":${objects}}}}`),
			-32700, /nesting deeper than 64 levels/);
		await assertServing();
	});

	test('invalid UTF-8 anywhere is a parse error naming its position', async () => {
		const wrap = (pre, bad, post) => Buffer.concat([Buffer.from(pre), Buffer.from(bad), Buffer.from(post)]);
		const cases = [
			['{"jsonrpc":"2.0","id":"', [0xff, 0xfe], '","method":"ping"}'],
			['{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"', [0xc0, 0xaf], '"}}'], // overlong '/'
			['{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"', [0xed, 0xa0, 0x80], '"}}'], // a surrogate
			['{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"', [0xf4, 0x90, 0x80, 0x80], '"}}'], // above U+10FFFF
			['{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"abc', [0xe2, 0x82], '"}}'], // truncated
			['{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo_tmp","arguments":{"text":"a', [0xc3, 0x28], '"}}}'],
			['{"jsonrpc":"2.0","id":1,"method":"ping","params":{"', [0x80], '":1}}'], // in a key
		];
		for (const [pre, bad, rest] of cases) {
			const body = Buffer.concat([Buffer.from(pre), Buffer.from(bad), Buffer.from(rest)]);
			// The column of the first byte that is wrong.
			assertError(await post(body), -32700, new RegExp(`^parse error at 1:${pre.length + 1}: invalid UTF-8 in string$`));
		}
		await assertServing();
	});

	test('duplicate keys are a parse error, at every level', async () => {
		assertError(await post('{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}'), -32700, /^parse error at 1:25: duplicate key "id"$/);
		assertError(await post('{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/list"}'), -32700, /duplicate key "method"/);
		assertError(await post('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_tmp","arguments":{"text":"a","text":"b"}}}'),
			-32700, /duplicate key "text"/);
		// Keys are case-sensitive: "ID" is another key (and an unknown one).
		const r = await post('{"jsonrpc":"2.0","ID":1,"id":3,"method":"ping"}');
		assert.deepEqual(r.json, { jsonrpc: '2.0', id: 3, result: {} });
		await assertServing();
	});

	test('ids: strings and numbers echoed exactly as sent; other types are invalid requests', async () => {
		for (const id of ['1', '-1', '0', '-0', '1.5', '0.1', '1e3', '1E+3', '12345678901234567890', '9007199254740993',
			'1e308', '""', '"x"', '"\\u00e9\\ud83d\\ude00"', '"é😀"', '"\\"quoted\\""']) {
			const r = await post(`{"jsonrpc":"2.0","id":${id},"method":"ping"}`);
			assert.equal(r.status, 200, r.text);
			assert.equal(r.text, `{"jsonrpc":"2.0","id":${id},"result":{}}`, `id ${id}`);
		}
		for (const id of ['null', 'true', 'false', '[]', '[1]', '{}', '{"a":1}'])
			assertError(await post(`{"jsonrpc":"2.0","id":${id},"method":"ping"}`), -32600, /^"id" must be a string or a number$/);
		assertError(await post('{"jsonrpc":"2.0","id":1e400,"method":"ping"}'), -32700, /^parse error at 1:23: number out of range$/);
		await assertServing();
	});

	test('not one JSON-RPC message: batches, empty bodies, a BOM, trailing data, U+0000', async () => {
		assertError(await post('[{"jsonrpc":"2.0","id":1,"method":"ping"}]'), -32600, /^batches are not supported/);
		assertError(await post(''), -32700, /^parse error at 1:1: empty input$/);
		assertError(await post('\ufeff{"jsonrpc":"2.0","id":1,"method":"ping"}'), -32700, /^parse error at 1:1: unexpected character/);
		assertError(await post('{"jsonrpc":"2.0","id":1,"method":"ping"} x'), -32700, /unexpected data after JSON value/);
		assertError(await post('{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"ping"}'), -32700, /unexpected data after JSON value/);
		assertError(await post('{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo_tmp","arguments":{"text":"a\\u0000b"}}}'),
			-32700, /string contains U\+0000, which toolcell does not accept/);
		await assertServing();
	});

	test('lone surrogate escapes ("\\ud800") in a tools/call: one answer, the gateway lives', async () => {
		const own = makeScratch('abuse-surrogate', ['echo_tmp']);
		const g = await Gateway.start(own, { http: true });
		try {
			const x = await new HttpSession(g).init();
			for (const text of ['\\ud800', '\\udc00', 'a\\ud83d']) {
				const r = await x.post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_tmp","arguments":{"text":"${text}"}}}`);
				const m = message(r);
				// Either a parse error or the call's result; never nothing.
				assert.ok(m.error?.code === -32700 || (m.id === 1 && m.result), r.text);
				await sleep(300); // the call, if one started, ends
				assert.ok(g.alive, `the gateway died:\n${g.stderr.slice(-3000)}`);
				const p = await x.post(ping);
				assert.deepEqual(p.json, { jsonrpc: '2.0', id: 'alive', result: {} });
			}
			await x.close();
		} finally {
			g.kill();
			own.remove();
		}
	});
});
