// Soak: many calls mixing normal tools, crashing tools (SIGSEGV, SIGSYS from a
// system call the seccomp filter kills for), timeouts, output floods,
// cancellations, pings and tools/list, over stdio and over Streamable HTTP
// with 64 concurrent clients. Every call must get exactly one correct answer
// (a cancelled one none), and afterwards the gateway must be back where it
// started: the same fds and threads, RSS within a bound, no zombie child,
// no tool process anywhere, no {tmp} directory left under its TMPDIR, and a
// clean exit (which, in the ASan build, includes LeakSanitizer's verdict).
//
//   SOAK_STDIO_CALLS  calls per round over stdio      (default 200)
//   SOAK_HTTP_CALLS   calls per round over HTTP       (default 300)
//   SOAK_ROUNDS       rounds; gauges are read after each one (default 2)
//   SOAK_CLIENTS      concurrent HTTP clients         (default 64)
//   SOAK_SEED         the mix is drawn from this seed (default 4711)
//   SOAK_LOG          a file to keep the HTTP gateway's stderr in (TOOLCELL_LOG=debug for more)
//
// The short form (the defaults: 1,000 calls) runs in the test suite; the long
// form is integration/soak-long (10,000 calls or more).
//
// Run: node --test soak.test.mjs   (CMake: ctest -R integration_soak)

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import {
	BIN, Gateway, HttpSession, fmtGauge, gauge, isSanitized, makeScratch, markedProcesses,
	percentile, tmpLeft, toolProcesses, waitFor, zombies,
} from './reliability.mjs';

const STDIO_CALLS = Number(process.env.SOAK_STDIO_CALLS || 200);
const HTTP_CALLS = Number(process.env.SOAK_HTTP_CALLS || 300);
const ROUNDS = Number(process.env.SOAK_ROUNDS || 2);
const CLIENTS = Number(process.env.SOAK_CLIENTS || 64);
const SEED = Number(process.env.SOAK_SEED || 4711);

// RSS bounds, in KiB. After a round the heap keeps its high-water mark: up to
// 64 calls in flight, each holding up to 64 KiB of output (output_kb), the
// result's JSON and its escaped copy, over HTTP a stream and MHD's 16 KiB per
// connection; glibc gives little of that back to the kernel, and where the
// next round's allocations land decides how much of it is touched again. So
// RSS after a round may exceed the idle baseline by about the peak (measured:
// 2-3 MiB over stdio, 8-12 MiB over HTTP; bound: 24 MiB). In the long form
// (4 rounds or more) RSS must also be flat: the highest figure of the second
// half of the rounds at most 2 MiB above that of the first half. A leak of
// 1 KiB per call would add ~10 MiB over 10,000 calls.
const ROUND_GROWTH_KIB = 24 * 1024;
const FLAT_KIB = 2 * 1024;

// ---------------------------------------------------------------- the mix

function prng(seed) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const MIX = [
	['echo', 46], ['progress', 10], ['segv', 8], ['sigsys', 8], ['timeout', 4],
	['flood', 8], ['cancel', 8], ['ping', 4], ['list', 4],
];
const TOOLS = ['echo_tmp', 'flood', 'segv', 'sigsys', 'slow', 'timeout'];

function drawMix(n, rand) {
	const total = MIX.reduce((s, [, w]) => s + w, 0);
	return Array.from({ length: n }, () => {
		let r = rand() * total;
		for (const [k, w] of MIX) if ((r -= w) < 0) return k;
		return MIX[0][0];
	});
}

/** A text that differs per call, with multi-byte characters and JSON
 *  specials, so that an answer given to the wrong call cannot pass. */
const echoText = (tag) => `soak ${tag} — ünïcödé "q" \\ ${'x'.repeat(tag.length % 7)}`;

const callParams = (kind, tag) => {
	switch (kind) {
	case 'echo': return { name: 'echo_tmp', arguments: { text: echoText(tag) } };
	case 'progress': return { name: 'echo_tmp', arguments: { text: echoText(tag) }, _meta: { progressToken: `p-${tag}` } };
	case 'segv': return { name: 'segv', arguments: {} };
	case 'sigsys': return { name: 'sigsys', arguments: {} };
	case 'timeout': return { name: 'timeout', arguments: {} };
	case 'flood': return { name: 'flood', arguments: {} };
	case 'cancel': return { name: 'slow', arguments: {} };
	default: throw new Error(kind);
	}
};

const callRequest = (kind, id, tag) => {
	if (kind === 'ping') return { jsonrpc: '2.0', id, method: 'ping' };
	if (kind === 'list') return { jsonrpc: '2.0', id, method: 'tools/list' };
	return { jsonrpc: '2.0', id, method: 'tools/call', params: callParams(kind, tag) };
};

const failureText = {
	segv: 'killed by signal 11 (SIGSEGV)',
	sigsys: 'killed by signal 31 (SIGSYS) (a system call the sandbox denies)',
	timeout: 'killed: timeout after 1 s (timeout_s)',
	flood: 'killed: output exceeded 64 KiB (output_kb); output truncated',
};

/** Why an answer is wrong for its request, or null when it is right. */
function checkAnswer(kind, id, tag, msg) {
	try {
		assert.equal(msg.jsonrpc, '2.0');
		assert.deepEqual(msg.id, id);
		assert.equal(msg.error, undefined);
		const r = msg.result;
		switch (kind) {
		case 'ping':
			assert.deepEqual(r, {});
			break;
		case 'list':
			assert.deepEqual(r.tools.map((t) => t.name).sort(), TOOLS);
			break;
		case 'echo':
		case 'progress':
			assert.deepEqual(r.content, [{ type: 'text', text: `${echoText(tag)}\n` }]);
			assert.equal(r.isError, false);
			assert.equal(r._meta['toolcell/call'].exitCode, 0);
			break;
		case 'flood': {
			assert.equal(r.isError, true);
			assert.equal(r.content.length, 2);
			assert.equal(r.content[0].text, 'y\n'.repeat(32768));
			assert.equal(r.content[1].text, failureText.flood);
			assert.equal(r._meta['toolcell/call'].truncated, true);
			break;
		}
		case 'timeout':
			assert.equal(r.isError, true);
			assert.match(r.content[0].text, /^\d+\n$/);
			assert.equal(r.content.at(-1).text, failureText.timeout);
			assert.equal(r._meta['toolcell/call'].timedOut, true);
			break;
		default:
			assert.equal(r.isError, true);
			assert.deepEqual(r.content, [{ type: 'text', text: failureText[kind] }]);
		}
		return null;
	} catch (e) {
		return `${kind} ${JSON.stringify(id)}: ${e.message.split('\n').slice(0, 6).join(' ')} — ${JSON.stringify(msg).slice(0, 300)}`;
	}
}

/** Runs `n` jobs on `lanes` concurrent lanes. */
async function lanes(n, count, job) {
	let next = 0;
	await Promise.all(Array.from({ length: count }, async (_, lane) => {
		for (let i; (i = next++) < n;) await job(i, lane);
	}));
}

// ---------------------------------------------------------------- settling

/** Waits until no call of the gateway runs, no {tmp} is left and the fds are
 *  back to `fds` (when given), then reads the gauges. */
async function settle(gw, fds) {
	await waitFor(() => toolProcesses(gw.pid).length === 0 && markedProcesses(gw.scratch.mark).length === 0 &&
		tmpLeft(gw.scratch.tmp).length === 0 && (fds === undefined || gauge(gw.pid).fds <= fds), 15000, 50);
	// A moment for the loop to finish what it does after the last answer.
	await sleep(300);
	return gauge(gw.pid);
}

function assertClean(gw) {
	assert.deepEqual(toolProcesses(gw.pid), [], 'tool processes are left');
	assert.deepEqual(markedProcesses(gw.scratch.mark), [], 'tool processes are left outside the gateway\'s tree');
	assert.deepEqual(zombies(gw.pid), [], 'zombie children');
	assert.deepEqual(tmpLeft(gw.scratch.tmp), [], '{tmp} directories are left');
}

function reportRounds(t, base, rounds) {
	t.diagnostic(`baseline: ${fmtGauge(base)}`);
	rounds.forEach((g, i) => t.diagnostic(`after round ${i + 1}: ${fmtGauge(g)}`));
}

function assertRounds(t, gw, base, rounds) {
	for (const [i, g] of rounds.entries()) {
		assert.equal(g.fds, base.fds, `fds after round ${i + 1}`);
		assert.equal(g.threads, base.threads, `threads after round ${i + 1}`);
	}
	if (isSanitized(gw.pid)) {
		// ASan's quarantine keeps freed memory resident (up to 256 MiB):
		// RSS says nothing here; LeakSanitizer at exit does the job.
		t.diagnostic('ASan build: RSS not bounded here (quarantine); LeakSanitizer checks at exit');
		return;
	}
	for (const [i, g] of rounds.entries())
		assert.ok(g.rssKiB - base.rssKiB <= ROUND_GROWTH_KIB,
			`RSS grew by ${g.rssKiB - base.rssKiB} KiB from the baseline after round ${i + 1}`);
	if (rounds.length >= 4) {
		const half = Math.floor(rounds.length / 2);
		const first = Math.max(...rounds.slice(0, half).map((g) => g.rssKiB));
		const second = Math.max(...rounds.slice(half).map((g) => g.rssKiB));
		assert.ok(second - first <= FLAT_KIB, `RSS not flat: ${first} KiB at most in the first half of the rounds, ${second} KiB in the second`);
	}
}

async function assertCleanExit(gw) {
	const { code, signal } = await gw.stop();
	assert.equal(signal, null, `the gateway died of ${signal}:\n${gw.stderr.slice(-3000)}`);
	assert.doesNotMatch(gw.stderr, /AddressSanitizer|LeakSanitizer|runtime error:/, gw.stderr.slice(-5000));
	assert.equal(code, 0, `the gateway exited with ${code}:\n${gw.stderr.slice(-3000)}`);
}

// ------------------------------------------------------------------ tests

describe('soak', { concurrency: false }, () => {
	before(() => assert.ok(fs.existsSync(BIN), `toolcell binary not found at ${BIN} (set TOOLCELL_BIN)`));

	test(`stdio: ${ROUNDS} x ${STDIO_CALLS} calls, 32 in flight`, async (t) => {
		const s = makeScratch('soak-stdio', TOOLS);
		const gw = await Gateway.start(s);
		try {
			const c = gw.client;
			const rand = prng(SEED);
			// Warm-up: each kind once, so lazily made things exist.
			for (const kind of ['echo', 'progress', 'segv', 'sigsys', 'flood', 'ping', 'list']) {
				const id = `warm-${kind}`;
				const err = checkAnswer(kind, id, id, await c.request(id, callRequest(kind, id, id).method, callRequest(kind, id, id).params));
				assert.equal(err, null);
			}
			const base = await settle(gw);
			const rounds = [];
			const failures = [];
			const cancelled = [];
			const expected = new Map();
			const counts = {};
			const t0 = Date.now();
			for (let round = 0; round < ROUNDS; round++) {
				const mix = drawMix(STDIO_CALLS, rand);
				await lanes(STDIO_CALLS, 32, async (i) => {
					const kind = mix[i];
					counts[kind] = (counts[kind] || 0) + 1;
					const tag = `${round}.${i}`;
					// Ids of both types: an answer must echo the exact one.
					const id = i % 2 ? `s-${tag}` : round * 1e6 + i;
					const req = callRequest(kind, id, tag);
					if (kind === 'cancel') {
						cancelled.push(id);
						c.send(req);
						await sleep(Math.floor(rand() * 200));
						c.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'soak' } });
						return;
					}
					expected.set(JSON.stringify(id), kind);
					const msg = await c.request(id, req.method, req.params);
					const err = checkAnswer(kind, id, tag, msg);
					if (err) failures.push(err);
					if (kind === 'progress') {
						const p = c.notifications.filter((n) => n.params?.progressToken === `p-${tag}`);
						if (p.length < 1 || p.map((n) => n.params.message).join('') !== `${echoText(tag)}\n`)
							failures.push(`progress ${tag}: ${JSON.stringify(p)}`);
					}
				});
				rounds.push(await settle(gw, base.fds));
			}
			const ms = Date.now() - t0;
			// Late or second answers would come now.
			await sleep(500);
			for (const [key, list] of c.answers) {
				if (key.startsWith('"warm-') || key === '"init"') continue;
				if (cancelled.some((id) => JSON.stringify(id) === key))
					failures.push(`cancelled ${key} was answered: ${JSON.stringify(list[0]).slice(0, 200)}`);
				else if (!expected.has(key)) failures.push(`an answer to no request: ${key}`);
				else if (list.length !== 1) failures.push(`${key} answered ${list.length} times`);
			}
			for (const key of expected.keys())
				if (!c.answers.has(key)) failures.push(`${key} (${expected.get(key)}) never answered`);
			t.diagnostic(`${ROUNDS * STDIO_CALLS} calls in ${ms} ms: ${JSON.stringify(counts)}`);
			reportRounds(t, base, rounds);
			assert.deepEqual(c.unparsable, []);
			assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failures`);
			assertClean(gw);
			assertRounds(t, gw, base, rounds);
			await assertCleanExit(gw);
			assertClean(gw);
		} finally {
			gw.kill();
			s.remove();
		}
	});

	test(`HTTP: ${ROUNDS} x ${HTTP_CALLS} calls from ${CLIENTS} concurrent clients`, async (t) => {
		const s = makeScratch('soak-http', TOOLS);
		const gw = await Gateway.start(s, { http: true });
		try {
			const rand = prng(SEED + 1);
			{
				const w = await new HttpSession(gw).init();
				for (const kind of ['echo', 'progress', 'segv', 'sigsys', 'flood', 'ping', 'list']) {
					const id = `warm-${kind}`;
					const r = await w.post(callRequest(kind, id, id));
					assert.equal(r.status, 200);
					assert.equal(checkAnswer(kind, id, id, r.events ? r.events.at(-1) : r.json), null);
				}
				await w.close();
			}
			const base = await settle(gw);
			const rounds = [];
			const failures = [];
			const counts = {};
			const latencies = [];
			const t0 = Date.now();
			for (let round = 0; round < ROUNDS; round++) {
				const mix = drawMix(HTTP_CALLS, rand);
				const sessions = await Promise.all(Array.from({ length: CLIENTS }, () => new HttpSession(gw).init()));
				await lanes(HTTP_CALLS, CLIENTS, async (i, lane) => {
					const kind = mix[i];
					const ses = sessions[lane];
					const tag = `${round}.${i}`;
					const id = i % 2 ? `s-${tag}` : round * 1e6 + i;
					const req = callRequest(kind, id, tag);
					const how = kind === 'cancel' ? (i % 4 < 2 ? 'cancelled' : 'gone') : null;
					counts[how || kind] = (counts[how || kind] || 0) + 1;
					const delay = Math.floor(rand() * 250) + 50;
					const q0 = Date.now();
					try {
						if (how === 'gone') {
							// The client goes away before anything was
							// sent: the call is killed, nothing answers.
							let reqObj;
							const p = ses.post(req, { agent: false, onRequest: (r) => (reqObj = r) });
							p.catch(() => {});
							await sleep(delay);
							reqObj.destroy();
							const r = await p.then((x) => x, () => null);
							if (r) failures.push(`gone ${tag}: answered ${r.status} ${r.text.slice(0, 200)}`);
							return;
						}
						if (how === 'cancelled') {
							// Cancelled once the call runs (its first
							// progress event says so): sent at once, the
							// notification could overtake the request on
							// its other connection.
							let started;
							const running = new Promise((resolve) => (started = resolve));
							req.params._meta = { progressToken: `c-${tag}` };
							const p = ses.post(req, { onEvent: started });
							p.then(started, started);
							await running;
							await sleep(delay - 50);
							const c = await ses.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'soak' } });
							if (c.status !== 202) failures.push(`cancel ${tag}: ${c.status} ${c.text}`);
							const r = await p;
							const answers = (r.events ?? [r.json]).filter((m) => m && 'id' in m && !m.method);
							if (r.status !== 200 || answers.length !== 0)
								failures.push(`cancelled ${tag}: answered ${r.status} ${r.text.slice(0, 300)}`);
							return;
						}
						const r = await ses.post(req);
						if (kind !== 'timeout') latencies.push(Date.now() - q0);
						if (r.status !== 200) {
							failures.push(`${kind} ${tag}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
							return;
						}
						const msgs = r.events ?? [r.json];
						const answers = msgs.filter((m) => m && 'id' in m && !m.method);
						if (answers.length !== 1) {
							failures.push(`${kind} ${tag}: ${answers.length} answers in ${r.text.slice(0, 300)}`);
							return;
						}
						const err = checkAnswer(kind, id, tag, answers[0]);
						if (err) failures.push(err);
						if (kind === 'progress') {
							const prog = msgs.filter((m) => m.method === 'notifications/progress');
							if (prog.map((m) => m.params.message).join('') !== `${echoText(tag)}\n`)
								failures.push(`progress ${tag}: ${JSON.stringify(prog)}`);
						}
					} catch (e) {
						// What the gateway was doing, for the report.
						failures.push(`${kind} ${tag} (session ${ses.sid}): ${e.message}; tool processes ${JSON.stringify(toolProcesses(gw.pid))}, ${fmtGauge(gauge(gw.pid))}`);
					}
				});
				await Promise.all(sessions.map((x) => x.close()));
				rounds.push(await settle(gw, base.fds));
			}
			const ms = Date.now() - t0;
			t.diagnostic(`${ROUNDS * HTTP_CALLS} calls in ${ms} ms: ${JSON.stringify(counts)}`);
			t.diagnostic(`latency of the calls that do not time out: p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, max ${Math.max(...latencies)} ms`);
			reportRounds(t, base, rounds);
			if (process.env.SOAK_LOG) fs.writeFileSync(process.env.SOAK_LOG, gw.stderr);
			assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failures`);
			assertClean(gw);
			assertRounds(t, gw, base, rounds);
			await assertCleanExit(gw);
			assertClean(gw);
		} finally {
			gw.kill();
			s.remove();
		}
	});
});
