// Faults around the gateway: it is SIGKILLed mid-call (no tool process may
// survive it), it runs out of file descriptors (EMFILE) while serving over
// Streamable HTTP, its disk fills up ({tmp}, the workspace, the audit log),
// its manifest directory disappears, a tool's program goes missing or loses
// its execute bit, a call's processes die slowly while others start. Every call must still get one answer (a tool result with
// isError naming the cause), the gateway must never crash, and it must serve
// normally again once the fault is gone.
//
// The full-disk tests mount small tmpfs file systems and need root; they
// are skipped, with the reason, otherwise.
//
//   TOOLCELL_BIN, TOOLCELL_SOURCE_DIR: see reliability.mjs
//
// Run: node --test faults.test.mjs   (CMake: ctest -R integration_faults)

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import {
	BIN, FIXTURES, Gateway, HttpSession, children, comm, fmtGauge, gauge, makeScratch, markedProcesses, processGone,
	rawSocket, tmpLeft, toolProcesses, waitFor,
} from './reliability.mjs';

/** What each of a process's descriptors is (fd:target), to name a leak. */
function fdLinks(pid) {
	return fs.readdirSync(`/proc/${pid}/fd`).map((f) => {
		try {
			return `${f}:${fs.readlinkSync(`/proc/${pid}/fd/${f}`)}`;
		} catch {
			return `${f}:gone`;
		}
	});
}

/** Lowers a running gateway's RLIMIT_NOFILE (soft and hard) to `n`. The
 *  gateway raises its soft limit to the hard one at start-up, so the limit is
 *  set from outside, once its idle descriptor count is known. */
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

// ---------------------------------------------------------------- SIGKILL

describe('the gateway SIGKILLed mid-call', () => {
	test('over HTTP, with 4 calls running (2 with a file in {tmp}): no tool process survives it, nor the keeper', async (t) => {
		const s = makeScratch('faults-kill', ['slow', 'slow_tmp']);
		const gw = await Gateway.start(s, { http: true });
		const sessions = [];
		try {
			const keeper = children(gw.pid).filter((k) => comm(k) === 'toolcell-keeper');
			assert.equal(keeper.length, 1, 'no keeper');
			// Each call prints its sleep's pid first: its progress event says
			// the call runs, and names a process to look for afterwards.
			const sleeps = [];
			await Promise.all([0, 1, 2, 3].map(async (i) => {
				const ses = await new HttpSession(gw).init();
				sessions.push(ses);
				await new Promise((resolve) => {
					ses.post({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: i % 2 ? 'slow' : 'slow_tmp', arguments: {}, _meta: { progressToken: i } } },
						{ onEvent: (e) => {
							if (e.method !== 'notifications/progress') return;
							sleeps.push(Number(e.params.message));
							resolve();
						} }).then(resolve, resolve);
				});
			}));
			assert.equal(sleeps.length, 4, 'not every call started');
			// A sleep's pid is printed as soon as it is forked, maybe before
			// its exec: wait until each runs the run's sleep.
			assert.ok(await waitFor(() => sleeps.every((p) => markedProcesses(s.mark).includes(p)), 2000),
				`sleeps ${sleeps}, running ${markedProcesses(s.mark)}`);
			const tree = toolProcesses(gw.pid);
			assert.ok(sleeps.every((p) => tree.includes(p)), `sleeps ${sleeps}, tree ${tree}`);
			// No other process runs the run's sleep (reading /proc races
			// with the kernel now and then: what is seen must be a sleep).
			const marked = markedProcesses(s.mark);
			assert.ok(marked.every((p) => sleeps.includes(p)), `marked ${marked}, sleeps ${sleeps}`);
			t.diagnostic(`before: ${tree.length} tool processes, keeper ${keeper}, {tmp} ${tmpLeft(s.tmp).length}`);

			const t0 = Date.now();
			gw.kill('SIGKILL');
			assert.ok(await waitFor(() => [...tree, ...keeper].every((p) => processGone(p, { allowZombie: true })) &&
				markedProcesses(s.mark).length === 0, 2000),
			`left after 2 s: ${[...tree, ...keeper].filter((p) => !processGone(p, { allowZombie: true }))}, marked ${markedProcesses(s.mark)}`);
			const left = tmpLeft(s.tmp);
			t.diagnostic(`all ${tree.length} tool processes and the keeper gone ${Date.now() - t0} ms after the SIGKILL; ` +
				`{tmp} directories left: ${left.length}, holding ${JSON.stringify(left.map((d) => fs.readdirSync(path.join(s.tmp, d))))}`);
			assert.deepEqual(await gw.exited, { code: null, signal: 'SIGKILL' });
		} finally {
			for (const x of sessions) x.agent.destroy();
			gw.kill();
			s.remove();
		}
	});
});

// ---------------------------------------------------------------- full disk

/** Fills a file system: one file takes every block left, then empty files
 *  every inode left. Returns what to remove to free it. */
function fillUp(dir) {
	const made = [path.join(dir, 'filler')];
	const fd = fs.openSync(made[0], 'w');
	const zeros = Buffer.alloc(64 * 1024);
	try {
		for (;;) fs.writeSync(fd, zeros);
	} catch (e) {
		assert.equal(e.code, 'ENOSPC');
	} finally {
		fs.closeSync(fd);
	}
	try {
		for (let i = 0; ; i++) {
			fs.writeFileSync(path.join(dir, `inode-${i}`), '');
			made.push(path.join(dir, `inode-${i}`));
		}
	} catch (e) {
		assert.equal(e.code, 'ENOSPC');
	}
	return made;
}

function auditLines(file) {
	return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l);
}

describe('a full disk', { concurrency: false }, () => {
	let s, gw, c, base, skip, audit;
	before(async () => {
		s = makeScratch('faults-disk', ['echo_tmp', 'fill', 'segv']);
		if (process.getuid() !== 0) {
			skip = 'not root: cannot mount the small file systems';
			return;
		}
		// The gateway's TMPDIR (where {tmp} directories are made, and here
		// the audit log) and its workspace, each on a 1 MiB tmpfs.
		for (const [dir, opts] of [[s.tmp, 'size=1m,nr_inodes=64,mode=1777'], [s.ws, 'size=1m,mode=755']]) {
			const r = spawnSync('mount', ['-t', 'tmpfs', '-o', opts, 'toolcell-faults', dir], { encoding: 'utf8' });
			if (r.status !== 0) {
				skip = `mount -t tmpfs failed: ${(r.stderr || r.error?.message || '').trim()}`;
				return;
			}
		}
		audit = path.join(s.tmp, 'audit.log');
		gw = await Gateway.start(s, { args: ['--audit', audit] });
		c = gw.client;
		const r = await c.request('warm', 'tools/call', { name: 'echo_tmp', arguments: { text: 'warm' } });
		assert.deepEqual(r.result.content, [{ type: 'text', text: 'warm\n' }]);
		// The call's handles close just after its answer.
		await sleep(300);
		base = gauge(gw.pid);
	});
	after(async () => {
		gw?.kill();
		await gw?.exited;
		for (const dir of [s?.tmp, s?.ws]) if (dir) spawnSync('umount', [dir]);
		s?.remove();
	});

	const call = async (id, name, args = {}) => (await c.request(id, 'tools/call', { name, arguments: args })).result;
	// What the tests below saw, for the verdicts that follow them.
	const seen = {};

	test('TMPDIR full: a call that needs {tmp} says it cannot create it; others run; the gateway serves again once there is room', async (t) => {
		if (skip) return t.skip(skip);
		const made = fillUp(s.tmp);
		try {
			const r = await call(1, 'echo_tmp', { text: 'x' });
			assert.equal(r.isError, true);
			assert.deepEqual(r.content, [{ type: 'text', text: 'cannot create the call\'s {tmp} directory: No space left on device' }]);
			assert.deepEqual((await call(2, 'segv')).content, [{ type: 'text', text: 'killed by signal 11 (SIGSEGV)' }]);
			// The audit log is on the full disk too: once the last page it
			// had is full, its lines cannot be written, and the gateway says
			// so (the calls are answered all the same).
			for (let i = 0; i < 60 && !/audit: cannot write the log/.test(gw.stderr); i++)
				assert.equal((await call(`a${i}`, 'segv')).isError, true);
			seen.auditError = /toolcell: error: audit: cannot write the log: .*/.exec(gw.stderr)?.[0];
			t.diagnostic(`with the disk full: ${seen.auditError}`);
			assert.ok(seen.auditError, 'no audit error logged');
		} finally {
			for (const f of made) fs.rmSync(f);
		}
		assert.deepEqual((await call(3, 'echo_tmp', { text: 'room again' })).content, [{ type: 'text', text: 'room again\n' }]);
		assert.deepEqual(tmpLeft(s.tmp), []);
		// The log is written again (whether its lines stay whole: a todo below).
		assert.match(auditLines(audit).at(-1), /"tool":"echo_tmp","arguments":\{"text":"room again"\}/);
		assert.ok(gw.alive);
	});

	test('the workspace full: the tool\'s own error comes back (exit status, stderr); the gateway serves', async (t) => {
		if (skip) return t.skip(skip);
		assert.equal((await call(10, 'fill', { bytes: '1000' })).content[0].text, 'wrote 1000 bytes\n');
		const r = await call(11, 'fill', { bytes: '2000000' });
		assert.equal(r.isError, true);
		assert.equal(r.content.length, 1);
		assert.match(r.content[0].text, /^exit status 1\nstderr:\nhead: error writing 'standard output': No space left on device\n$/);
		t.diagnostic(JSON.stringify(r.content[0].text));
		fs.rmSync(path.join(s.ws, 'fill.bin'));
		assert.equal((await call(12, 'fill', { bytes: '1000' })).content[0].text, 'wrote 1000 bytes\n');
		assert.deepEqual(toolProcesses(gw.pid), []);
		assert.ok(await waitFor(() => gauge(gw.pid).fds === base.fds, 2000), `fds ${gauge(gw.pid).fds}, baseline ${base.fds}`);
	});

	test('the audit error names the real cause (No space left on device)', (t) => {
		if (skip) return t.skip(skip);
		assert.match(seen.auditError ?? '', /No space left on device/);
	});

	test('the audit log stays one JSON object per line after the disk was full', (t) => {
		if (skip) return t.skip(skip);
		const bad = auditLines(audit).filter((l) => {
			try {
				JSON.parse(l);
				return false;
			} catch {
				return true;
			}
		});
		assert.deepEqual(bad.map((l) => `${l.slice(0, 60)} ... ${l.slice(-60)}`), []);
	});

	test('stdin closed: exit status 0, no sanitizer report', async (t) => {
		if (skip) return t.skip(skip);
		const { code, signal } = await gw.stop();
		assert.equal(signal, null, gw.stderr.slice(-3000));
		assert.doesNotMatch(gw.stderr, /AddressSanitizer|LeakSanitizer|runtime error:/, gw.stderr.slice(-5000));
		assert.equal(code, 0, gw.stderr.slice(-3000));
	});
});

// ---------------------------------------------------------------- manifests

describe('the manifest directory disappears', { concurrency: false }, () => {
	let s, gw, c;
	before(async () => {
		s = makeScratch('faults-manifests', ['echo_tmp', 'segv']);
		gw = await Gateway.start(s);
		c = gw.client;
	});
	after(async () => {
		gw?.kill();
		s?.remove();
	});

	test('rm -rf while serving: an error logged, the last good tools kept and working, no list_changed', async () => {
		const list = async (id) => (await c.request(id, 'tools/list')).result.tools.map((x) => x.name).sort();
		assert.deepEqual(await list(1), ['echo_tmp', 'segv']);
		fs.rmSync(s.manifests, { recursive: true });
		const logged = new RegExp(`toolcell: error: manifest directory ${s.manifests} is gone \\(No such file or ` +
			'directory\\); keeping the 2 tools loaded, and reading it again when it is back\\n');
		assert.ok(await waitFor(() => logged.test(gw.stderr), 3000), gw.stderr);
		assert.deepEqual(await list(2), ['echo_tmp', 'segv']);
		assert.deepEqual((await c.request(3, 'tools/call', { name: 'echo_tmp', arguments: { text: 'still' } })).result.content,
			[{ type: 'text', text: 'still\n' }]);
		assert.deepEqual((await c.request(4, 'tools/call', { name: 'segv', arguments: {} })).result.content,
			[{ type: 'text', text: 'killed by signal 11 (SIGSEGV)' }]);
		assert.deepEqual(c.notifications.filter((n) => n.method === 'notifications/tools/list_changed'), []);
		assert.ok(gw.alive);
	});

	test('the directory comes back: its tools are loaded again', async () => {
		fs.mkdirSync(s.manifests);
		for (const f of ['echo_tmp.json', 'flood.json'])
			fs.copyFileSync(path.join(FIXTURES, f), path.join(s.manifests, f));
		const names = async () => (await c.request(`l${Date.now()}`, 'tools/list')).result.tools.map((x) => x.name).sort();
		let last;
		const ok = await waitFor(async () => (last = await names()).includes('flood'), 3000, 200);
		assert.ok(ok, `tools/list still says ${JSON.stringify(last)}`);
		assert.deepEqual(last, ['echo_tmp', 'flood']);
	});

	test('stdin closed: exit status 0, no sanitizer report', async () => {
		const { code, signal } = await gw.stop();
		assert.equal(signal, null, gw.stderr.slice(-3000));
		assert.doesNotMatch(gw.stderr, /AddressSanitizer|LeakSanitizer|runtime error:/, gw.stderr.slice(-5000));
		assert.equal(code, 0, gw.stderr.slice(-3000));
	});
});

// ---------------------------------------------------------------- programs

describe('a tool\'s program missing or not executable', { concurrency: false }, () => {
	let s, gw, c, prog, bin;
	const manifest = (name, program) => JSON.stringify({
		name,
		title: 'A program of its own',
		description: 'Fault fixture: a script outside the system directories.',
		inputSchema: { type: 'object', properties: {}, additionalProperties: false },
		annotations: { readOnlyHint: true, openWorldHint: false },
		command: [program],
		stdin: null,
		cwd: '{workspace}',
		env: { LANG: 'C.UTF-8', PATH: '/usr/bin:/bin' },
		output: 'text',
		grants: {
			read: ['@system', bin], write: [], exec: ['@system', bin], net: [], listen: [],
			limits: { timeout_s: 10, cpu_s: 5, memory_mb: 256, processes: 16, open_files: 64, file_size_mb: 1, output_kb: 64 },
		},
	}, null, 2);
	before(async () => {
		s = makeScratch('faults-program', ['echo_tmp']);
		bin = path.join(s.root, 'bin');
		fs.mkdirSync(bin);
		fs.chmodSync(bin, 0o755);
		prog = path.join(bin, 'hello');
		fs.writeFileSync(prog, '#!/bin/sh\necho hello\n', { mode: 0o755 });
		fs.writeFileSync(path.join(s.manifests, 'hello.json'), manifest('hello', prog));
		gw = await Gateway.start(s);
		c = gw.client;
	});
	after(async () => {
		gw?.kill();
		s?.remove();
	});

	const call = async (id, name) => (await c.request(id, 'tools/call', { name, arguments: {} })).result;
	const cannot = (why) => [{ type: 'text', text: `cannot start ${prog}: executing the program failed: ${why}` }];

	test('its execute bit gone, then the file gone, then back: each call answered, the failures naming the program and the reason', async () => {
		assert.deepEqual((await call(1, 'hello')).content, [{ type: 'text', text: 'hello\n' }]);
		fs.chmodSync(prog, 0o644);
		let r = await call(2, 'hello');
		assert.equal(r.isError, true);
		assert.deepEqual(r.content, cannot('Permission denied'));
		fs.renameSync(prog, `${prog}.away`);
		r = await call(3, 'hello');
		assert.equal(r.isError, true);
		assert.deepEqual(r.content, cannot('No such file or directory'));
		// Another tool is not affected.
		assert.deepEqual((await call(4, 'echo_tmp')).isError, true); // its argument is missing: a schema error
		assert.deepEqual((await c.request(5, 'tools/call', { name: 'echo_tmp', arguments: { text: 'fine' } })).result.content,
			[{ type: 'text', text: 'fine\n' }]);
		fs.renameSync(`${prog}.away`, prog);
		fs.chmodSync(prog, 0o755);
		assert.deepEqual((await call(6, 'hello')).content, [{ type: 'text', text: 'hello\n' }]);
		assert.deepEqual(toolProcesses(gw.pid), []);
		assert.ok(gw.alive);
	});

	test('a script whose interpreter is missing: the execve error (ENOENT) comes back as it is', async () => {
		fs.writeFileSync(prog, '#!/nonexistent/interpreter\n', { mode: 0o755 });
		try {
			const r = await call(7, 'hello');
			assert.equal(r.isError, true);
			// The kernel says ENOENT for the interpreter of a file that
			// exists; the message cannot tell the two apart.
			assert.deepEqual(r.content, cannot('No such file or directory'));
		} finally {
			fs.writeFileSync(prog, '#!/bin/sh\necho hello\n', { mode: 0o755 });
		}
		assert.deepEqual((await call(8, 'hello')).content, [{ type: 'text', text: 'hello\n' }]);
	});

	test('missing when manifests load: check and serve refuse the manifest at command[0], with the reason', () => {
		const gone = path.join(bin, 'gone');
		const dir = path.join(s.root, 'manifests-missing');
		fs.mkdirSync(dir);
		const file = path.join(dir, 'gone.json');
		fs.writeFileSync(file, manifest('gone', gone));
		const check = spawnSync(BIN, ['check', dir], { encoding: 'utf8' });
		assert.equal(check.status, 2, check.stderr);
		const where = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: command\\[0\\]: ${gone.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: No such file or directory$`, 'm');
		assert.match(check.stderr, where);
		const serve = spawnSync(BIN, ['serve', '--manifests', dir, '--workspace', s.ws], { encoding: 'utf8', input: '', timeout: 10000 });
		assert.equal(serve.status, 2, serve.stderr);
		assert.match(serve.stderr, where);
	});

	test('stdin closed: exit status 0, no sanitizer report', async () => {
		const { code, signal } = await gw.stop();
		assert.equal(signal, null, gw.stderr.slice(-3000));
		assert.doesNotMatch(gw.stderr, /AddressSanitizer|LeakSanitizer|runtime error:/, gw.stderr.slice(-5000));
		assert.equal(code, 0, gw.stderr.slice(-3000));
	});
});

// A call's leader exits while a member of its group is still dying (a dd
// freeing a 400 MiB buffer, holding the call's stderr): its exit is noticed
// well before its output ends. Calls started in that window get the
// descriptor numbers the first call has closed (its pidfd). A handle that
// still named such a number when it closed took the new call's pipe or pidfd
// out of the event loop: that call was never answered (the soak's rare "no
// answer in 30000 ms").
describe('a call that dies slowly while others start', () => {
	test('every call started beside it is answered', async (t) => {
		const s = makeScratch('faults-slowexit', ['slow_exit', 'echo_tmp']);
		const gw = await Gateway.start(s);
		try {
			const c = gw.client;
			const lost = [];
			let n = 0;
			let stop = false;
			const lane = async () => {
				while (!stop) {
					const id = `echo-${n++}`;
					const r = await Promise.race([
						c.request(id, 'tools/call', { name: 'echo_tmp', arguments: { text: id } }),
						sleep(10000).then(() => null),
					]);
					if (r?.result?.content?.[0]?.text !== `${id}\n`) lost.push(`${id}: ${r ? JSON.stringify(r).slice(0, 200) : 'no answer in 10 s'}`);
				}
			};
			const lanes = Array.from({ length: 6 }, lane);
			for (let i = 0; i < 6; i++) {
				const r = await c.request(`slow-${i}`, 'tools/call', { name: 'slow_exit', arguments: {} });
				assert.equal(r.result?.isError, false, JSON.stringify(r));
			}
			stop = true;
			await Promise.all(lanes);
			t.diagnostic(`${n} calls beside 6 slow exits`);
			assert.deepEqual(lost, []);
			assert.ok(await waitFor(() => toolProcesses(gw.pid).length === 0, 5000), JSON.stringify(toolProcesses(gw.pid)));
		} finally {
			gw.kill();
			s.remove();
		}
	});
});
