// Faults around the gateway: here, the gateway out of file descriptors
// (EMFILE) while it serves over Streamable HTTP. Every call must still get
// one answer (a tool result with isError naming the cause), the gateway must
// never crash, and it must serve normally again once descriptors are free.
//
//   TOOLCELL_BIN, TOOLCELL_SOURCE_DIR: see reliability.mjs
//
// Run: node --test faults.test.mjs   (CMake: ctest -R integration_faults)

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import {
	BIN, Gateway, HttpSession, fmtGauge, gauge, makeScratch, rawSocket, toolProcesses, waitFor,
} from './reliability.mjs';

/** Lowers a running gateway's RLIMIT_NOFILE (soft and hard) to `n`. The
 *  gateway raises its soft limit to the hard one at start-up, so the limit is
 *  set from outside, once its idle descriptor count is known. */
function fdLinks(pid) {
	return fs.readdirSync(`/proc/${pid}/fd`).map((f) => {
		try {
			return `${f}:${fs.readlinkSync(`/proc/${pid}/fd/${f}`)}`;
		} catch {
			return `${f}:gone`;
		}
	});
}

function limitFds(pid, n) {
	execFileSync('prlimit', ['--pid', String(pid), `--nofile=${n}:${n}`]);
}

const initialize = {
	jsonrpc: '2.0', id: 0, method: 'initialize',
	params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'faults', version: '1' } },
};

/** Opens idle connections until the gateway stops accepting them (EMFILE):
 *  returns them once its descriptor count is at `limit`. */
async function exhaust(gw, limit, max = 64) {
	const idle = [];
	for (let i = 0; i < max && gauge(gw.pid).fds < limit; i++) {
		idle.push(rawSocket(gw));
		await waitFor(() => idle.at(-1).connected || idle.at(-1).error, 1000);
		await sleep(10);
	}
	assert.ok(await waitFor(() => gauge(gw.pid).fds >= limit, 2000), `fds ${gauge(gw.pid).fds}, limit ${limit}`);
	return idle;
}

describe('EMFILE in the gateway', { concurrency: false }, () => {
	let s, gw, base, limit;
	before(async () => {
		assert.ok(fs.existsSync(BIN), `toolcell binary not found at ${BIN} (set TOOLCELL_BIN)`);
		s = makeScratch('faults-emfile', ['echo_tmp', 'segv']);
		gw = await Gateway.start(s, { http: true });
		// The first call opens a descriptor the gateway then keeps
		// (/dev/null): the baseline is taken after one.
		const warm = await new HttpSession(gw).init();
		await warm.post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo_tmp', arguments: { text: 'warm' } } });
		await warm.close();
		assert.ok(await waitFor(() => toolProcesses(gw.pid).length === 0, 2000));
		await sleep(200);
		base = gauge(gw.pid);
		base.links = fdLinks(gw.pid);
		// Room for a call of echo_tmp (pipes, pidfd, {tmp}, its Landlock
		// rules) and a few connections, no more.
		limit = base.fds + 24;
		limitFds(gw.pid, limit);
	});
	after(async () => {
		gw?.kill();
		s?.remove();
	});

	// Shared by the tests below: the answers given while out of descriptors.
	const out = {};

	test('out of descriptors: every call is answered with a tool error, the gateway lives, and serves again once they are free', async (t) => {
		const ses = await new HttpSession(gw).init();
		try {
			const ok = await ses.post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo_tmp', arguments: { text: 'before' } } });
			assert.equal(ok.json?.result?.content?.[0]?.text, 'before\n', ok.text);
			// The session's keep-alive connection is open: fill the rest.
			const idle = await exhaust(gw, limit);
			t.diagnostic(`${idle.length} idle connections: ${fmtGauge(gauge(gw.pid))} (limit ${limit})`);
			for (const [id, name, args] of [[2, 'echo_tmp', { text: 'x' }], [3, 'segv', {}], [4, 'echo_tmp', { text: 'y' }]]) {
				const r = await ses.post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }, { timeout: 5000 });
				assert.equal(r.status, 200, r.text);
				assert.equal(r.json.id, id, r.text);
				assert.equal(r.json.result?.isError, true, r.text);
				assert.equal(r.json.result.content.length, 1, r.text);
				out[name] = r.json.result.content[0].text;
			}
			t.diagnostic(`echo_tmp: ${JSON.stringify(out.echo_tmp)}; segv: ${JSON.stringify(out.segv)}`);
			assert.ok(gw.alive);
			assert.deepEqual(toolProcesses(gw.pid), []);

			for (const c of idle) c.so.destroy();
			await sleep(500);
			const again = await ses.post({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'echo_tmp', arguments: { text: 'after' } } });
			assert.equal(again.json?.result?.content?.[0]?.text, 'after\n', again.text);
			const segv = await ses.post({ jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'segv', arguments: {} } });
			assert.equal(segv.json?.result?.content?.[0]?.text, 'killed by signal 11 (SIGSEGV)', segv.text);
		} finally {
			await ses.close();
		}
		// A connection that waited in the backlog and was closed by its
		// client before MHD accepted it is noticed only by the 10 s cut.
		const t0 = Date.now();
		assert.ok(await waitFor(() => gauge(gw.pid).fds === base.fds, 12000),
			`fds ${gauge(gw.pid).fds}, baseline ${base.fds}; new: ${fdLinks(gw.pid).filter((l) => !base.links.includes(l)).join(' ')}`);
		t.diagnostic(`descriptors back to the baseline ${Date.now() - t0} ms after the session closed`);
	});

	test('the tool errors at EMFILE say what failed and why', () => {
		assert.ok(out.echo_tmp && out.segv, 'the test before did not get this far');
		for (const text of [out.echo_tmp, out.segv])
			assert.match(text, /^cannot .*: Too many open files/);
	});

	test('a client that connects while the gateway is at EMFILE is served once descriptors are free', async (t) => {
		const idle = await exhaust(gw, limit);
		// And more, which wait in the backlog.
		for (let i = 0; i < 8; i++) idle.push(rawSocket(gw));
		await sleep(200);
		t.diagnostic(`${idle.length} idle connections: ${fmtGauge(gauge(gw.pid))} (limit ${limit})`);
		const ses = new HttpSession(gw, { keepAlive: false });
		const pending = ses.post(initialize, { timeout: 8000 }).catch((e) => ({ status: e.message }));
		await sleep(1000);
		const t0 = Date.now();
		for (const c of idle) c.so.destroy();
		const r = await pending;
		assert.ok(gw.alive);
		assert.equal(r.status, 200, `the waiting client, ${Date.now() - t0} ms after the idle connections closed`);
		assert.ok(Date.now() - t0 < 3000, `answered ${Date.now() - t0} ms after the idle connections closed`);
	});

	test('after all that: SIGTERM ends the gateway with status 0 and no sanitizer report', async () => {
		assert.ok(gw.alive, `the gateway died:\n${gw.stderr.slice(-3000)}`);
		const { code, signal } = await gw.stop();
		assert.equal(signal, null, `the gateway died of ${signal}:\n${gw.stderr.slice(-3000)}`);
		assert.doesNotMatch(gw.stderr, /AddressSanitizer|LeakSanitizer|runtime error:/, gw.stderr.slice(-5000));
		assert.equal(code, 0, `the gateway exited with ${code}:\n${gw.stderr.slice(-3000)}`);
	});
});
