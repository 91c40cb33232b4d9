// Integration tests: the real MCP TypeScript SDK (and, for protocol-level
// checks, raw newline-delimited JSON-RPC) driving the real toolcell binary
// over stdio.
//
//   TOOLCELL_BIN         the binary (default: ../build/toolcell, relative to this file)
//   TOOLCELL_SOURCE_DIR  the repository root (default: the parent of this directory);
//                        manifests/ and integration/fixtures/ are read from it
//
// Run: node --test stdio.test.mjs   (CMake: ctest -R integration)

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError, ErrorCode, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { liveChildren, processGone, waitFor } from './procs.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(process.env.TOOLCELL_BIN || path.join(HERE, '..', 'build', 'toolcell'));
const SOURCE_DIR = path.resolve(process.env.TOOLCELL_SOURCE_DIR || path.join(HERE, '..'));
const MANIFESTS = path.join(SOURCE_DIR, 'manifests');
const FIXTURES = path.join(SOURCE_DIR, 'integration', 'fixtures');

const BUNDLED = ['git_diff', 'git_log', 'git_status', 'list_dir', 'read_file',
	'run_command', 'search_text', 'write_file'];
const VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'];
const CAPABILITIES = { tools: { listChanged: true }, logging: {} };

// ---------------------------------------------------------------- helpers

/** A scratch tree: root/ws is the workspace (a git repository with history,
 *  a modification and an untracked file), root/outside lies beside it. */
function makeTree() {
	const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'toolcell-it-')));
	const ws = path.join(root, 'ws');
	const outside = path.join(root, 'outside');
	fs.mkdirSync(path.join(ws, 'src'), { recursive: true });
	fs.mkdirSync(outside);
	fs.writeFileSync(path.join(outside, 'secret.txt'), 'outside secret\n');

	fs.writeFileSync(path.join(ws, 'README.md'), 'hello toolcell\nsecond line\n');
	git(ws, 'init', '-q');
	git(ws, 'symbolic-ref', 'HEAD', 'refs/heads/main');
	git(ws, 'add', 'README.md');
	git(ws, 'commit', '-q', '-m', 'initial commit', { date: '2024-01-02T03:04:05Z' });
	fs.writeFileSync(path.join(ws, 'src', 'main.c'),
		'int main(void)\n/* needle_4711 */\n{ return 0; }\n');
	git(ws, 'add', 'src/main.c');
	git(ws, 'commit', '-q', '-m', 'add main.c', { date: '2024-01-03T03:04:05Z' });
	fs.appendFileSync(path.join(ws, 'README.md'), 'third line\n');
	fs.writeFileSync(path.join(ws, 'notes.txt'), 'untracked notes\n');
	return { root, ws, outside };
}

/** git outside the sandbox, isolated from the user's and the system's config. */
function git(cwd, ...args) {
	let date = '2024-01-01T00:00:00Z';
	if (typeof args.at(-1) === 'object') date = args.pop().date;
	return execFileSync('git', args, {
		cwd,
		encoding: 'utf8',
		env: {
			PATH: process.env.PATH, LANG: 'C.UTF-8', GIT_CONFIG_NOSYSTEM: '1',
			GIT_CONFIG_GLOBAL: '/dev/null', HOME: cwd,
			GIT_AUTHOR_NAME: 'Toolcell Test', GIT_AUTHOR_EMAIL: 'test@example.invalid',
			GIT_COMMITTER_NAME: 'Toolcell Test', GIT_COMMITTER_EMAIL: 'test@example.invalid',
			GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date,
		},
	});
}

/** Run a bundled manifest's own command line outside the sandbox, with the
 *  manifest's environment: what the sandboxed tool must print too. */
function unsandboxed(cwd, argv, env) {
	return execFileSync(argv[0], argv.slice(1), { cwd, env, encoding: 'utf8' });
}
const GIT_ENV = { LANG: 'C.UTF-8', GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', PATH: '/usr/bin:/bin' };
const GIT_PREFIX = ['/usr/bin/git', '--no-optional-locks', '-c', 'safe.directory=*', '-c', 'core.fsmonitor=false'];

/** Quote for /bin/sh. */
const shq = (s) => `'${String(s).replaceAll("'", `'\\''`)}'`;

function findExecutable(name) {
	for (const d of ['/usr/local/bin', '/usr/bin', '/bin']) {
		const p = path.join(d, name);
		try {
			fs.accessSync(p, fs.constants.X_OK);
			return p;
		} catch { /* next */ }
	}
	return null;
}

/** An SDK client connected to a fresh gateway. `raw` records every message
 *  the gateway sends after initialization, in order. */
async function connect({ ws, manifests = MANIFESTS, env = {}, args = [] }) {
	const transport = new StdioClientTransport({
		command: BIN,
		args: ['serve', '--manifests', manifests, '--workspace', ws, ...args],
		cwd: ws,
		env,
		stderr: 'pipe',
	});
	const stderr = [];
	transport.stderr.on('data', (d) => stderr.push(d));
	const client = new Client({ name: 'toolcell-integration', version: '1.0.0' }, { capabilities: {} });
	await client.connect(transport);
	const raw = [];
	const deliver = transport.onmessage;
	transport.onmessage = (msg, extra) => {
		raw.push(msg);
		deliver(msg, extra);
	};
	const proc = transport._process; // SDK internal, used only to check the exit status
	return {
		client, transport, raw, pid: transport.pid,
		stderr: () => Buffer.concat(stderr).toString(),
		/** Close stdin and require a clean exit (status 0). */
		async close() {
			await client.close();
			if (proc) {
				if (proc.exitCode === null && proc.signalCode === null)
					await new Promise((r) => proc.once('exit', r));
				assert.equal(proc.signalCode, null, 'gateway killed by a signal');
				assert.equal(proc.exitCode, 0, `gateway exit status; stderr:\n${Buffer.concat(stderr)}`);
			}
		},
	};
}

/** The gateway spoken to with raw newline-delimited JSON-RPC. */
class RawGateway {
	constructor({ ws, manifests = MANIFESTS, env = {}, spawnOptions = {} }) {
		this.proc = spawn(BIN, ['serve', '--manifests', manifests, '--workspace', ws], {
			cwd: ws, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'], ...spawnOptions,
		});
		this.lines = [];      // raw response lines (Buffers, without the newline)
		this.waiters = [];
		this.stderrChunks = [];
		let pending = Buffer.alloc(0);
		this.proc.stdout.on('data', (d) => {
			pending = Buffer.concat([pending, d]);
			let nl;
			while ((nl = pending.indexOf(0x0a)) >= 0) {
				this.lines.push(pending.subarray(0, nl));
				pending = pending.subarray(nl + 1);
			}
			this._wake();
		});
		this.proc.stderr.on('data', (d) => this.stderrChunks.push(d));
		this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => {
			this._wake();
			resolve({ code, signal });
		}));
	}
	_wake() {
		for (const w of this.waiters.splice(0)) w();
	}
	get stderr() {
		return Buffer.concat(this.stderrChunks).toString();
	}
	send(msg) {
		this.proc.stdin.write(typeof msg === 'string' ? msg + '\n' : JSON.stringify(msg) + '\n');
	}
	/** The next line (from index `from`) satisfying pred(lineText, parsed). */
	async line(pred, { from = 0, timeout = 10000 } = {}) {
		const end = Date.now() + timeout;
		for (;;) {
			for (let i = from; i < this.lines.length; i++) {
				const text = new TextDecoder('utf-8', { fatal: true }).decode(this.lines[i]);
				const msg = JSON.parse(text);
				if (pred(text, msg)) return { text, msg, index: i };
			}
			if (Date.now() > end || this.proc.exitCode !== null)
				throw new Error(`no matching line; got:\n${this.lines.map(String).join('\n')}\nstderr:\n${this.stderr}`);
			await new Promise((r) => {
				this.waiters.push(r);
				setTimeout(r, 50);
			});
		}
	}
	/** Send a request and return its response (matched by the raw id text). */
	async request(msg, rawId = JSON.stringify(msg.id)) {
		const from = this.lines.length;
		this.send(msg);
		return this.line((text) => text.includes(`"id":${rawId},`), { from });
	}
	async initialize(protocolVersion = '2025-11-25') {
		const r = await this.request({
			jsonrpc: '2.0', id: 0, method: 'initialize',
			params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
		});
		this.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
		return r.msg;
	}
	async end() {
		this.proc.stdin.end();
		return this.exited;
	}
	kill() {
		if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
	}
}

const text = (result) => result.content.map((c) => {
	assert.equal(c.type, 'text');
	return c.text;
});
const meta = (result) => result._meta?.['toolcell/call'];

function assertOk(result, stdout, stdoutBytes = Buffer.byteLength(stdout)) {
	assert.equal(result.isError, false, `tool failed: ${JSON.stringify(result)}`);
	assert.deepEqual(text(result), [stdout]);
	const m = meta(result);
	assert.equal(m.exitCode, 0);
	assert.equal(m.signal, null);
	assert.equal(m.timedOut, false);
	assert.equal(m.truncated, false);
	assert.equal(m.stdoutBytes, stdoutBytes);
}

/** The progress notifications of one tools/call as they came over the wire
 *  (the SDK's onprogress may miss the last one: it drops progress that is
 *  processed after the response, typescript-sdk issue #2580). */
function wireProgress(raw, from) {
	const msgs = raw.slice(from);
	const results = msgs.flatMap((m, i) => (m.result?.content ? [i] : []));
	assert.equal(results.length, 1, 'exactly one tools/call result on the wire since `from`');
	const resultAt = results[0];
	const token = msgs[resultAt].id; // the SDK uses the request id as progress token
	const at = msgs.flatMap((m, i) => (m.method === 'notifications/progress' && m.params.progressToken === token ? [i] : []));
	assert.ok(at.every((i) => i < resultAt), 'progress notifications must precede the result');
	return at.map((i) => msgs[i].params);
}

async function assertMcpError(promise, code, messageRe) {
	await assert.rejects(promise, (err) => {
		assert.ok(err instanceof McpError, `expected McpError, got ${err}`);
		assert.equal(err.code, code);
		if (messageRe) assert.match(err.message, messageRe);
		return true;
	});
}

// ------------------------------------------------------------------ tests

let tree;
before(() => {
	assert.ok(fs.existsSync(BIN), `toolcell binary not found at ${BIN} (set TOOLCELL_BIN)`);
	assert.ok(fs.existsSync(MANIFESTS), `manifests not found at ${MANIFESTS} (set TOOLCELL_SOURCE_DIR)`);
	tree = makeTree();
});
after(() => {
	if (tree) fs.rmSync(tree.root, { recursive: true, force: true });
});

describe('bundled tools over the SDK', () => {
	let gw;
	before(async () => {
		gw = await connect({ ws: tree.ws, env: { TOOLCELL_IT_SECRET: 'must-not-leak' } });
	});
	after(async () => {
		await gw?.close();
	});

	test('initialize: server info and capabilities', () => {
		assert.deepEqual(gw.client.getServerCapabilities(), CAPABILITIES);
		const info = gw.client.getServerVersion();
		assert.equal(info.name, 'toolcell');
		assert.equal(typeof info.version, 'string');
		assert.equal(typeof gw.client.getInstructions(), 'string');
	});

	test('ping', async () => {
		assert.deepEqual(await gw.client.ping(), {});
	});

	test('tools/list: the 8 bundled tools, exactly as their manifests describe them', async () => {
		const { tools, nextCursor } = await gw.client.listTools();
		assert.equal(nextCursor, undefined);
		assert.deepEqual(tools.map((t) => t.name), BUNDLED);
		for (const t of tools) {
			const m = JSON.parse(fs.readFileSync(path.join(MANIFESTS, `${t.name}.json`), 'utf8'));
			assert.equal(t.title, m.title);
			assert.equal(t.description, m.description);
			assert.deepEqual(t.inputSchema, m.inputSchema, `${t.name}.inputSchema`);
			assert.equal(t.inputSchema.type, 'object');
			assert.deepEqual(t.annotations, m.annotations, `${t.name}.annotations`);
		}
	});

	test('read_file reads a workspace file', async () => {
		const r = await gw.client.callTool({ name: 'read_file', arguments: { path: 'README.md' } });
		assertOk(r, 'hello toolcell\nsecond line\nthird line\n');
		const m = meta(r);
		assert.deepEqual(Object.keys(m).sort(), ['durationMs', 'exitCode', 'signal', 'stderr',
			'stderrTruncated', 'stdoutBytes', 'timedOut', 'truncated']);
		assert.equal(typeof m.durationMs, 'number');
		assert.ok(m.durationMs >= 0 && m.durationMs < 10000, `durationMs ${m.durationMs}`);
		assert.equal(m.stderr, '');
		assert.equal(m.stderrTruncated, false);
	});

	test('list_dir lists the workspace and a subdirectory', async () => {
		const root = await gw.client.callTool({ name: 'list_dir', arguments: {} });
		assert.equal(root.isError, false, JSON.stringify(root));
		const names = text(root)[0].trimEnd().split('\n').slice(1).map((l) => l.split(' ').at(-1));
		for (const n of ['.', '..', '.git', 'README.md', 'notes.txt', 'src']) assert.ok(names.includes(n), `${n} in ${names}`);

		const src = await gw.client.callTool({ name: 'list_dir', arguments: { path: 'src' } });
		assertOk(src, unsandboxed(tree.ws, ['/usr/bin/ls', '-la', '--', 'src'], { LANG: 'C.UTF-8', TZ: 'UTC' }));
		assert.match(text(src)[0], /^total \d+\n/);
		assert.match(text(src)[0], / main\.c\n$/);
	});

	test('search_text finds a line', async () => {
		assertOk(await gw.client.callTool({ name: 'search_text', arguments: { pattern: 'needle_[0-9]+' } }),
			'src/main.c:2:/* needle_4711 */\n');
		assertOk(await gw.client.callTool({ name: 'search_text', arguments: { pattern: 'line$', path: 'README.md', max_count: 2 } }),
			'2:second line\n3:third line\n');
	});

	test('search_text without a match: exit status 1', async () => {
		const r = await gw.client.callTool({ name: 'search_text', arguments: { pattern: 'no_such_text_[0-9]{9}' } });
		assert.equal(r.isError, true);
		assert.deepEqual(text(r), ['exit status 1']);
		assert.equal(meta(r).exitCode, 1);
		assert.equal(meta(r).stdoutBytes, 0);
	});

	test('write_file then read_file round-trips (including content larger than a pipe buffer)', async () => {
		const content = 'line one\nünïcødé ✓ 😀\n';
		const w = await gw.client.callTool({ name: 'write_file', arguments: { path: 'out/deep/new.txt', content } });
		assertOk(w, '');
		assert.equal(fs.readFileSync(path.join(tree.ws, 'out/deep/new.txt'), 'utf8'), content);
		assertOk(await gw.client.callTool({ name: 'read_file', arguments: { path: 'out/deep/new.txt' } }), content);

		const big = 'abcdefghij'.repeat(30000) + '\n'; // 300 KB through stdin and back through stdout
		assertOk(await gw.client.callTool({ name: 'write_file', arguments: { path: 'out/big.txt', content: big } }), '');
		assert.equal(fs.statSync(path.join(tree.ws, 'out/big.txt')).size, big.length);
		assertOk(await gw.client.callTool({ name: 'read_file', arguments: { path: 'out/big.txt' } }), big);

		// Replacing an existing file.
		assertOk(await gw.client.callTool({ name: 'write_file', arguments: { path: 'out/deep/new.txt', content: '' } }), '');
		assert.equal(fs.readFileSync(path.join(tree.ws, 'out/deep/new.txt'), 'utf8'), '');
	});

	test('git_status shows the branch, the modification and the untracked file', async () => {
		const expected = unsandboxed(tree.ws, [...GIT_PREFIX, 'status', '--branch', '--untracked-files=normal'], GIT_ENV);
		const r = await gw.client.callTool({ name: 'git_status', arguments: {} });
		assertOk(r, expected);
		assert.match(expected, /^On branch main\n/);
		assert.match(expected, /modified: +README\.md\n/);
		assert.match(expected, /\tnotes\.txt\n/);
	});

	test('git_diff shows the unstaged change', async () => {
		const expected = unsandboxed(tree.ws, [...GIT_PREFIX, 'diff', '--no-ext-diff', '--no-textconv', '--no-color', '--end-of-options', '--'], GIT_ENV);
		assert.match(expected, /^diff --git a\/README\.md b\/README\.md\n/);
		assert.match(expected, /\n second line\n\+third line\n$/);
		assertOk(await gw.client.callTool({ name: 'git_diff', arguments: {} }), expected);
		assertOk(await gw.client.callTool({ name: 'git_diff', arguments: { revision: 'HEAD', path: 'README.md' } }), expected);
		assertOk(await gw.client.callTool({ name: 'git_diff', arguments: { path: 'src' } }), '');
	});

	test('git_log shows the commits, newest first', async () => {
		const [h2, h1] = git(tree.ws, 'log', '--format=%h').trim().split('\n');
		assertOk(await gw.client.callTool({ name: 'git_log', arguments: {} }),
			`${h2} 2024-01-03 Toolcell Test: add main.c\n${h1} 2024-01-02 Toolcell Test: initial commit\n`);
		assertOk(await gw.client.callTool({ name: 'git_log', arguments: { max_count: 1 } }),
			`${h2} 2024-01-03 Toolcell Test: add main.c\n`);
		assertOk(await gw.client.callTool({ name: 'git_log', arguments: { path: 'README.md' } }),
			`${h1} 2024-01-02 Toolcell Test: initial commit\n`);
	});

	test('run_command runs a shell command in the workspace', async () => {
		assertOk(await gw.client.callTool({ name: 'run_command', arguments: { command: 'pwd; echo "$LANG"; cat README.md | wc -l' } }),
			`${tree.ws}\nC.UTF-8\n3\n`);
		assertOk(await gw.client.callTool({ name: 'run_command', arguments: { command: 'echo made > made-by-run.txt' } }), '');
		assert.equal(fs.readFileSync(path.join(tree.ws, 'made-by-run.txt'), 'utf8'), 'made\n');
	});

	test('a failing command: isError, exit status and stderr', async () => {
		const r = await gw.client.callTool({ name: 'run_command', arguments: { command: 'echo partial; echo "it broke" >&2; exit 3' } });
		assert.equal(r.isError, true);
		assert.deepEqual(text(r), ['partial\n', 'exit status 3\nstderr:\nit broke\n']);
		const m = meta(r);
		assert.equal(m.exitCode, 3);
		assert.equal(m.signal, null);
		assert.equal(m.timedOut, false);
		assert.equal(m.stderr, 'it broke\n');
		assert.equal(m.stdoutBytes, 8);

		// The gateway keeps serving.
		assertOk(await gw.client.callTool({ name: 'run_command', arguments: { command: 'echo still here' } }), 'still here\n');
	});

	test('a command killed by a signal', async () => {
		const r = await gw.client.callTool({ name: 'run_command', arguments: { command: 'echo hi; kill -TERM $$' } });
		assert.equal(r.isError, true);
		assert.deepEqual(text(r), ['hi\n', 'killed by signal 15 (SIGTERM)']);
		assert.equal(meta(r).exitCode, null);
		assert.equal(meta(r).signal, 'TERM');
		assert.equal(meta(r).timedOut, false);
	});

	test('invalid arguments are refused by name and nothing runs', async () => {
		const cases = [
			['read_file', {}, "argument 'path' is required"],
			['read_file', { path: 'README.md', bogus: 1 }, "argument 'bogus' is not allowed (additionalProperties is false); allowed: path"],
			['read_file', { path: '' }, "argument 'path': shorter than 1 character (minLength)"],
			['git_log', { max_count: '3' }, "argument 'max_count': must be an integer (got string)"],
			['git_log', { max_count: 1.5 }, "argument 'max_count': must be an integer (got 1.5)"],
			['git_log', { max_count: 0 }, "argument 'max_count': must be >= 1 (minimum)"],
			['git_diff', { revision: 'a b' }, "argument 'revision': does not match pattern ^[A-Za-z0-9_./~^@{}-]+$"],
			['write_file', { path: 'x.txt' }, "argument 'content' is required"],
		];
		for (const [name, args, message] of cases) {
			const r = await gw.client.callTool({ name, arguments: args });
			assert.equal(r.isError, true, `${name} ${JSON.stringify(args)}`);
			assert.deepEqual(text(r), [message], `${name} ${JSON.stringify(args)}`);
			assert.equal(meta(r), undefined, 'a refused call has no run metadata');
		}
		// Nothing was forked: these would have created files.
		const r1 = await gw.client.callTool({ name: 'run_command', arguments: { command: 'touch ran-1', extra: true } });
		assert.deepEqual(text(r1), ["argument 'extra' is not allowed (additionalProperties is false); allowed: command"]);
		const r2 = await gw.client.callTool({ name: 'write_file', arguments: { path: 'ran-2', content: 7 } });
		assert.equal(r2.isError, true);
		assert.match(text(r2)[0], /^argument 'content'/);
		assert.ok(!fs.existsSync(path.join(tree.ws, 'ran-1')));
		assert.ok(!fs.existsSync(path.join(tree.ws, 'ran-2')));
	});

	test('unknown tool: JSON-RPC error -32602', async () => {
		await assertMcpError(gw.client.callTool({ name: 'no_such_tool', arguments: {} }),
			ErrorCode.InvalidParams, /no_such_tool/);
		assert.deepEqual(await gw.client.ping(), {});
	});

	test('progress: each stdout chunk as notifications/progress, before the result', async () => {
		const seen = [];
		const from = gw.raw.length;
		const r = await gw.client.callTool(
			{ name: 'run_command', arguments: { command: "printf 'one\\n'; sleep 0.3; printf 'héllo\\n'; sleep 0.3; printf 'three\\n'" } },
			undefined, { onprogress: (p) => seen.push(p) });
		assertOk(r, 'one\nhéllo\nthree\n');
		const progress = wireProgress(gw.raw, from);
		assert.ok(progress.length >= 3, `${progress.length} progress notifications`);
		assert.equal(progress.map((p) => p.message).join(''), 'one\nhéllo\nthree\n');
		let bytes = 0;
		for (const p of progress) {
			bytes += Buffer.byteLength(p.message);
			assert.equal(p.progress, bytes, 'progress counts the bytes so far');
		}
		assert.equal(bytes, 17);
		// The SDK delivered them to onprogress too (at least the ones before the last chunk).
		assert.ok(seen.length >= 2, `onprogress called ${seen.length} times`);
		assert.deepEqual(seen, progress.slice(0, seen.length).map(({ progressToken, ...rest }) => rest));
	});

	test('progress: a UTF-8 character split across chunks arrives whole', async () => {
		const from = gw.raw.length;
		const r = await gw.client.callTool(
			{ name: 'run_command', arguments: { command: "printf '\\303'; sleep 0.3; printf '\\251\\n'" } },
			undefined, { onprogress: () => {} });
		assertOk(r, 'é\n');
		const progress = wireProgress(gw.raw, from);
		assert.equal(progress.map((p) => p.message).join(''), 'é\n');
		assert.equal(progress.at(-1).progress, 3);
	});

	test('no progress notifications without a progress token', async () => {
		const from = gw.raw.length;
		assertOk(await gw.client.callTool({ name: 'run_command', arguments: { command: 'echo a; sleep 0.2; echo b' } }), 'a\nb\n');
		assert.equal(gw.raw.slice(from).filter((m) => m.method === 'notifications/progress').length, 0);
	});

	test('invalid UTF-8 output arrives as U+FFFD and the session keeps working', async () => {
		const r = await gw.client.callTool({ name: 'run_command', arguments: { command: "printf 'a\\377b\\n'; printf 'e\\376\\n' >&2" } });
		assertOk(r, 'a\uFFFDb\n', 4);
		assert.equal(meta(r).stderr, 'e\uFFFD\n');
		const bad = await gw.client.callTool({ name: 'run_command', arguments: { command: "printf '\\377'" } });
		assertOk(bad, '\uFFFD', 1);
		assert.deepEqual(await gw.client.ping(), {});
		assertOk(await gw.client.callTool({ name: 'read_file', arguments: { path: 'notes.txt' } }), 'untracked notes\n');
	});

	test('concurrency: 8 x sleep 1 run in parallel; ping and tools/list answer meanwhile', async () => {
		const t0 = Date.now();
		const calls = Array.from({ length: 8 }, (_, i) => gw.client.callTool(
			{ name: 'run_command', arguments: { command: `sleep 1; echo ${i}` } }));
		await sleep(150);
		const p0 = Date.now();
		assert.deepEqual(await gw.client.ping(), {});
		const pingMs = Date.now() - p0;
		const l0 = Date.now();
		assert.equal((await gw.client.listTools()).tools.length, 8);
		const listMs = Date.now() - l0;
		const results = await Promise.all(calls);
		const total = Date.now() - t0;
		assert.ok(pingMs < 500, `ping took ${pingMs} ms while calls ran`);
		assert.ok(listMs < 500, `tools/list took ${listMs} ms while calls ran`);
		assert.ok(total < 4000, `8 parallel 1 s calls took ${total} ms`);
		results.forEach((r, i) => {
			assertOk(r, `${i}\n`);
			assert.ok(meta(r).durationMs >= 1000, `durationMs ${meta(r).durationMs}`);
		});
	});
});

describe('sandbox through MCP', () => {
	let gw;
	before(async () => {
		gw = await connect({ ws: tree.ws, env: { TOOLCELL_IT_SECRET: 'must-not-leak' } });
	});
	after(async () => {
		await gw?.close();
	});

	test('read_file of /etc/shadow: Permission denied', async () => {
		const r = await gw.client.callTool({ name: 'read_file', arguments: { path: '/etc/shadow' } });
		assert.equal(r.isError, true);
		assert.deepEqual(text(r), ['exit status 1\nstderr:\n/usr/bin/cat: /etc/shadow: Permission denied\n']);
		assert.equal(meta(r).exitCode, 1);
		assert.equal(meta(r).stderr, '/usr/bin/cat: /etc/shadow: Permission denied\n');
	});

	test('read_file outside the workspace: Permission denied (absolute, relative and through a symlink)', async () => {
		const secret = path.join(tree.outside, 'secret.txt');
		fs.symlinkSync(tree.outside, path.join(tree.ws, 'link-out'));
		try {
			for (const p of [secret, '../outside/secret.txt', 'link-out/secret.txt']) {
				const r = await gw.client.callTool({ name: 'read_file', arguments: { path: p } });
				assert.equal(r.isError, true, p);
				assert.deepEqual(text(r), [`exit status 1\nstderr:\n/usr/bin/cat: ${p}: Permission denied\n`]);
			}
		} finally {
			fs.unlinkSync(path.join(tree.ws, 'link-out'));
		}
	});

	test('write_file writes only inside the workspace', async () => {
		const cases = [
			['../outside.txt', path.join(tree.root, 'outside.txt')],
			[path.join(tree.outside, 'new.txt'), path.join(tree.outside, 'new.txt')],
		];
		for (const [p, real] of cases) {
			const r = await gw.client.callTool({ name: 'write_file', arguments: { path: p, content: 'escaped\n' } });
			assert.equal(r.isError, true, p);
			assert.equal(text(r).length, 1);
			assert.match(text(r)[0], /^exit status \d+\nstderr:\n.*Permission denied\n$/s);
			assert.notEqual(meta(r).exitCode, 0);
			assert.ok(!fs.existsSync(real), `${real} must not exist`);
		}
		// An existing file outside is neither truncated nor replaced.
		const r = await gw.client.callTool({ name: 'write_file', arguments: { path: '../outside/secret.txt', content: '' } });
		assert.equal(r.isError, true);
		assert.match(text(r)[0], /Permission denied/);
		assert.equal(fs.readFileSync(path.join(tree.outside, 'secret.txt'), 'utf8'), 'outside secret\n');
	});

	test('run_command cannot write outside the workspace', async () => {
		const target = path.join(tree.outside, 'from-run.txt');
		const r = await gw.client.callTool({ name: 'run_command', arguments: { command: `echo x > ${shq(target)}` } });
		assert.equal(r.isError, true);
		assert.match(text(r)[0], /Permission denied/);
		assert.ok(!fs.existsSync(target));
	});

	test('run_command cannot read the home directory of the gateway user', async (t) => {
		const home = os.homedir();
		if (!home || home === '/' || !fs.existsSync(home) || tree.ws.startsWith(home + '/') ||
		    ['/usr', '/bin', '/lib', '/etc'].some((d) => home === d || home.startsWith(d + '/'))) {
			t.skip(`HOME (${home}) is not a separate directory here`);
			return;
		}
		const r = await gw.client.callTool({ name: 'run_command', arguments: { command: `ls -a -- ${shq(home)}` } });
		assert.equal(r.isError, true, JSON.stringify(r));
		assert.match(text(r).at(-1), /^exit status 2\nstderr:\nls: cannot open directory .*: Permission denied\n$/);
		// $HOME inside the tool is a private scratch directory, removed after the call.
		const h = await gw.client.callTool({ name: 'run_command', arguments: { command: 'echo "$HOME"; test "$HOME" = "$TMPDIR" && touch "$HOME/scratch" && echo writable' } });
		assert.equal(h.isError, false, JSON.stringify(h));
		const [toolHome, w] = text(h)[0].trimEnd().split('\n');
		assert.notEqual(toolHome, home);
		assert.equal(w, 'writable');
		assert.ok(!fs.existsSync(toolHome), `${toolHome} must be removed after the call`);
	});

	test('run_command sees only the environment its manifest names', async () => {
		const r = await gw.client.callTool({ name: 'run_command', arguments: { command: 'env' } });
		assert.equal(r.isError, false);
		const names = text(r)[0].trimEnd().split('\n').map((l) => l.split('=')[0]).sort();
		assert.ok(!text(r)[0].includes('must-not-leak'), 'gateway environment leaked into the tool');
		for (const n of names) assert.ok(['HOME', 'LANG', 'OLDPWD', 'PATH', 'PWD', 'SHLVL', 'TMPDIR', '_'].includes(n), `unexpected variable ${n}`);
		for (const n of ['HOME', 'LANG', 'PATH', 'TMPDIR']) assert.ok(names.includes(n), `${n} missing`);
	});

	test('run_command has no network', async (t) => {
		const python = findExecutable('python3');
		const bash = findExecutable('bash');
		if (!python && !bash) {
			t.skip('neither python3 nor bash is installed');
			return;
		}
		let connections = 0;
		const server = net.createServer((s) => {
			connections++;
			s.destroy();
		});
		await new Promise((r) => server.listen(0, '127.0.0.1', r));
		const port = server.address().port;
		try {
			if (python) {
				const script = [
					'import socket, errno',
					'out = []',
					'for fam, typ in [(socket.AF_INET, socket.SOCK_STREAM), (socket.AF_INET, socket.SOCK_DGRAM),',
					'                 (socket.AF_INET6, socket.SOCK_STREAM), (socket.AF_NETLINK, socket.SOCK_RAW),',
					'                 (socket.AF_PACKET, socket.SOCK_RAW)]:',
					'    try:',
					'        socket.socket(fam, typ).close(); out.append("open")',
					'    except OSError as e:',
					'        out.append(errno.errorcode[e.errno])',
					'try:',
					'    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close(); out.append("unix")',
					'except OSError as e:',
					'    out.append(errno.errorcode[e.errno])',
					'a, b = socket.socketpair(); a.sendall(b"x"); out.append("pair-" + b.recv(1).decode())',
					'print(" ".join(out))',
				].join('\n');
				const r = await gw.client.callTool({ name: 'run_command', arguments: { command: `python3 -c ${shq(script)}` } });
				// Unix sockets too (no named or abstract socket outside the
				// call is reachable); socketpair keeps working.
				assertOk(r, 'EAFNOSUPPORT EAFNOSUPPORT EAFNOSUPPORT EAFNOSUPPORT EAFNOSUPPORT EAFNOSUPPORT pair-x\n');

				const c = await gw.client.callTool({ name: 'run_command', arguments: {
					command: `python3 -c ${shq(`import socket; socket.create_connection(("127.0.0.1", ${port}), timeout=3)`)}` } });
				assert.equal(c.isError, true);
				assert.match(meta(c).stderr, /Address family not supported by protocol/);
			}
			if (bash) {
				const r = await gw.client.callTool({ name: 'run_command', arguments: { command: `bash -c 'echo hi > /dev/tcp/127.0.0.1/${port}'` } });
				assert.equal(r.isError, true);
			}
			await sleep(100);
			assert.equal(connections, 0, 'the sandboxed tool reached a TCP listener on 127.0.0.1');
		} finally {
			server.close();
		}
	});

	test('the gateway keeps serving after denied calls', async () => {
		assertOk(await gw.client.callTool({ name: 'read_file', arguments: { path: 'README.md' } }),
			'hello toolcell\nsecond line\nthird line\n');
	});
});

describe('cancellation, timeouts and limits', () => {
	let gw, fx;
	before(async () => {
		[gw, fx] = await Promise.all([
			connect({ ws: tree.ws }),
			connect({ ws: tree.ws, manifests: FIXTURES }),
		]);
	});
	after(async () => {
		await Promise.all([gw?.close(), fx?.close()]);
	});

	test('cancellation kills the whole process tree and sends no result', async () => {
		const ac = new AbortController();
		let pids, havePids;
		const progressed = new Promise((resolve) => { havePids = resolve; });
		const call = gw.client.callTool(
			{ name: 'run_command', arguments: { command: 'sleep 30 & echo "$$ $!"; wait' } },
			undefined, {
				signal: ac.signal,
				onprogress: (p) => {
					pids = p.message.trim().split(' ').map(Number);
					havePids();
				},
			});
		call.catch(() => {}); // the rejection is checked below
		await Promise.race([progressed, sleep(5000)]);
		assert.ok(pids, 'no progress with the pids');
		const [shell, child] = pids;
		assert.ok(shell > 0 && child > 0, `pids ${pids}`);
		assert.ok(!processGone(shell) && !processGone(child), 'tool processes should be running');
		const token = gw.raw.find((m) => m.method === 'notifications/progress' && m.params.message.startsWith(`${shell} `)).params.progressToken;

		const t0 = Date.now();
		ac.abort();
		await assert.rejects(call);
		assert.ok(await waitFor(() => processGone(shell) && processGone(child, { allowZombie: true }), 1000),
			`processes ${pids} still alive ${Date.now() - t0} ms after cancel`);
		assert.ok(await waitFor(() => liveChildren(gw.pid).length === 0, 1000), 'gateway still has children');

		// No result for the cancelled request, and the session goes on.
		await sleep(300);
		assert.deepEqual(await gw.client.ping(), {});
		assert.equal(gw.raw.filter((m) => m.id === token).length, 0, 'a result was sent for a cancelled request');
		assertOk(await gw.client.callTool({ name: 'run_command', arguments: { command: 'echo after' } }), 'after\n');
	});

	test('fixture manifests load', async () => {
		const { tools } = await fx.client.listTools();
		assert.deepEqual(tools.map((t) => t.name).sort(), ['flood_output', 'sleep_past_timeout']);
	});

	test('timeout_s: killed after 1 s with no process left', async () => {
		let pids;
		const t0 = Date.now();
		const r = await fx.client.callTool({ name: 'sleep_past_timeout', arguments: {} }, undefined, {
			onprogress: (p) => { pids = p.message.trim().split(' ').map(Number); },
		});
		const elapsed = Date.now() - t0;
		assert.ok(elapsed >= 900 && elapsed < 2500, `timeout result after ${elapsed} ms`);
		assert.equal(r.isError, true);
		assert.ok(pids, 'no progress with the pids');
		assert.deepEqual(text(r), [`${pids.join(' ')}\n`, 'killed: timeout after 1 s (timeout_s)']);
		const m = meta(r);
		assert.equal(m.timedOut, true);
		assert.equal(m.exitCode, null);
		assert.equal(m.signal, 'KILL');
		assert.equal(m.truncated, false);
		assert.ok(m.durationMs >= 1000 && m.durationMs < 2000, `durationMs ${m.durationMs}`);
		const [shell, child] = pids;
		assert.ok(await waitFor(() => processGone(shell) && processGone(child, { allowZombie: true }), 1000),
			`processes ${pids} survived the timeout`);
		assert.ok(await waitFor(() => liveChildren(fx.pid).length === 0, 1000), 'gateway still has children');
	});

	test('timeout_s counts from each call\'s own start, also for calls read in one batch', async () => {
		// Sixteen calls in one write: the gateway reads and spawns them in
		// one loop iteration, so the loop's cached time is stale for the
		// later ones by the spawns before them. A limit set from that time
		// killed them early (under 1000 ms).
		const g = new RawGateway({ ws: tree.ws, manifests: FIXTURES });
		try {
			await g.initialize();
			const from = g.lines.length;
			const ids = Array.from({ length: 16 }, (_, i) => 100 + i);
			g.send(ids.map((id) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call',
				params: { name: 'sleep_past_timeout', arguments: {} } })).join('\n'));
			for (const id of ids) {
				const { msg } = await g.line((t, m) => m.id === id, { from });
				const m = meta(msg.result);
				assert.equal(m.timedOut, true, `call ${id}: ${JSON.stringify(msg)}`);
				assert.ok(m.durationMs >= 1000, `call ${id} was killed after ${m.durationMs} ms, before its 1 s limit`);
			}
		} finally {
			g.kill();
		}
	});

	test('cancelled in the same read as its request, while its spawn is under way: killed, no result', async () => {
		// One write: the gateway reads the call and its cancellation in one
		// loop iteration, before the spawn has been reported complete. The
		// kill must wait for the child and then take it.
		const marker = `sleep 31.${process.pid % 1000}${Date.now() % 1000}`;
		const running = () => fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).some((d) => {
			try {
				return fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(marker) && !processGone(Number(d));
			} catch {
				return false;
			}
		});
		const g = new RawGateway({ ws: tree.ws });
		try {
			await g.initialize();
			const from = g.lines.length;
			g.send([
				{ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'run_command', arguments: { command: marker } } },
				{ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7 } },
				{ jsonrpc: '2.0', id: 8, method: 'ping' },
			].map((m) => JSON.stringify(m)).join('\n'));
			await g.line((t, m) => m.id === 8, { from });
			assert.ok(await waitFor(() => !running(), 2000), `${marker} still runs after its cancellation`);
			assert.ok(await waitFor(() => liveChildren(g.proc.pid).length === 0, 1000), 'gateway still has children');
			await sleep(300);
			assert.deepEqual(g.lines.slice(from).map((l) => JSON.parse(l)).filter((m) => m.id === 7), [],
				'a result was sent for the cancelled request');
			const r = await g.request({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'run_command', arguments: { command: 'echo after' } } });
			assert.deepEqual(r.msg.result.content, [{ type: 'text', text: 'after\n' }]);
		} finally {
			g.kill();
		}
	});

	test('output_kb: output beyond the limit is truncated and the tool killed', async () => {
		const t0 = Date.now();
		const r = await fx.client.callTool({ name: 'flood_output', arguments: {} });
		assert.ok(Date.now() - t0 < 5000, 'the tool was not killed at the limit');
		assert.equal(r.isError, true);
		assert.deepEqual(text(r), ['x'.repeat(4096), 'killed: output exceeded 4 KiB (output_kb); output truncated']);
		const m = meta(r);
		assert.equal(m.truncated, true);
		assert.equal(m.stdoutBytes, 4096);
		assert.equal(m.timedOut, false);
		assert.equal(m.signal, 'KILL');
		assert.ok(await waitFor(() => liveChildren(fx.pid).length === 0, 1000), 'gateway still has children');
		// The gateway keeps serving after a killed call.
		assert.deepEqual(await fx.client.ping(), {});
	});
});

describe('audit log (--audit)', () => {
	test('one JSON line per call, with its arguments and outcome; refused arguments too', async () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'toolcell-audit-'));
		const log = path.join(dir, 'audit.log');
		try {
			const gw = await connect({ ws: dir, manifests: FIXTURES, args: ['--audit', log] });
			const r = await gw.client.callTool({ name: 'flood_output', arguments: {} });
			assert.equal(r.isError, true);
			const bad = await gw.client.callTool({ name: 'flood_output', arguments: { x: 1 } });
			assert.equal(bad.isError, true);
			await gw.close();
			assert.equal(fs.statSync(log).mode & 0o777, 0o600, 'the audit log must be private');
			const lines = fs.readFileSync(log, 'utf8').split('\n');
			assert.equal(lines.pop(), '', 'every line ends with a newline');
			assert.equal(lines.length, 2, lines.join('\n'));
			const [flood, refused] = lines.map((l) => JSON.parse(l));
			assert.match(flood.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
			assert.deepEqual({ ...flood, time: undefined, durationMs: undefined }, {
				time: undefined, durationMs: undefined, tool: 'flood_output', arguments: {},
				exitCode: null, signal: 'KILL', timedOut: false, truncated: true, stdoutBytes: 4096,
				cancelled: false, error: 'killed: output exceeded 4 KiB (output_kb); output truncated',
			});
			assert.equal(refused.tool, 'flood_output');
			assert.deepEqual(refused.arguments, { x: 1 });
			assert.equal(refused.cancelled, false);
			assert.equal(refused.exitCode, undefined, 'nothing ran');
			assert.match(refused.error, /x/);
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});
});

describe('logging', () => {
	let gw;
	const logs = [];
	before(async () => {
		gw = await connect({ ws: tree.ws });
		gw.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params));
	});
	after(async () => {
		await gw?.close();
	});

	const stderrCall = (command) => gw.client.callTool({ name: 'run_command', arguments: { command } });

	test('no log messages before logging/setLevel', async () => {
		const r = await stderrCall('echo quiet >&2');
		assertOk(r, '');
		assert.equal(meta(r).stderr, 'quiet\n');
		await sleep(100);
		assert.deepEqual(logs, []);
	});

	test('after setLevel info, tool stderr lines arrive as notifications/message before the result', async () => {
		assert.deepEqual(await gw.client.setLoggingLevel('info'), {});
		const from = gw.raw.length;
		const r = await stderrCall('echo err1 >&2; echo out; echo err2 >&2; printf "no newline" >&2');
		assertOk(r, 'out\n');
		assert.equal(meta(r).stderr, 'err1\nerr2\nno newline');
		await sleep(50);
		assert.deepEqual(logs, [
			{ level: 'info', logger: 'run_command', data: 'err1' },
			{ level: 'info', logger: 'run_command', data: 'err2' },
			{ level: 'info', logger: 'run_command', data: 'no newline' },
		]);
		const msgs = gw.raw.slice(from);
		const resultAt = msgs.findIndex((m) => m.result?.content);
		const logAt = msgs.flatMap((m, i) => (m.method === 'notifications/message' ? [i] : []));
		assert.equal(logAt.length, 3);
		assert.ok(logAt.every((i) => i < resultAt), 'log messages before the result');
	});

	test('the logger is the tool name', async () => {
		logs.length = 0;
		const r = await gw.client.callTool({ name: 'read_file', arguments: { path: 'no/such/file' } });
		assert.equal(r.isError, true);
		assert.deepEqual(text(r), ['exit status 1\nstderr:\n/usr/bin/cat: no/such/file: No such file or directory\n']);
		await sleep(50);
		assert.deepEqual(logs, [{ level: 'info', logger: 'read_file', data: '/usr/bin/cat: no/such/file: No such file or directory' }]);
	});

	test('setLevel warning silences info messages; an unknown level is -32602', async () => {
		logs.length = 0;
		await gw.client.setLoggingLevel('warning');
		const r = await stderrCall('echo hidden >&2');
		assertOk(r, '');
		assert.equal(meta(r).stderr, 'hidden\n');
		await sleep(100);
		assert.deepEqual(logs, []);
		await assertMcpError(gw.client.setLoggingLevel('loud'), ErrorCode.InvalidParams);
	});
});

describe('pagination', () => {
	for (const size of [3, 4, 1]) {
		test(`tools/list with TOOLCELL_PAGE_SIZE=${size}`, async () => {
			const gw = await connect({ ws: tree.ws, env: { TOOLCELL_PAGE_SIZE: String(size) } });
			try {
				const pages = [];
				let cursor;
				do {
					const page = await gw.client.listTools(cursor === undefined ? undefined : { cursor });
					pages.push(page.tools.map((t) => t.name));
					cursor = page.nextCursor;
					if (cursor !== undefined) assert.equal(typeof cursor, 'string');
					assert.ok(pages.length <= 8, 'pagination does not end');
				} while (cursor !== undefined);
				const expected = [];
				for (let i = 0; i < BUNDLED.length; i += size) expected.push(BUNDLED.slice(i, i + size));
				assert.deepEqual(pages, expected);
				for (const t of (await gw.client.listTools({ cursor: undefined })).tools) assert.ok(t.inputSchema);
				await assertMcpError(gw.client.listTools({ cursor: 'not-a-cursor' }), ErrorCode.InvalidParams, /cursor/);
			} finally {
				await gw.close();
			}
		});
	}
});

describe('raw protocol', () => {
	test('initialize negotiates the protocol version', async () => {
		for (const [requested, expected] of [...VERSIONS.map((v) => [v, v]),
			['2099-01-01', '2025-11-25'], ['2024-11-05', '2025-11-25']]) {
			const g = new RawGateway({ ws: tree.ws });
			try {
				const res = await g.initialize(requested);
				assert.equal(res.id, 0);
				assert.equal(res.result.protocolVersion, expected, `requested ${requested}`);
				assert.deepEqual(res.result.capabilities, CAPABILITIES);
				assert.equal(res.result.serverInfo.name, 'toolcell');
				assert.deepEqual(await g.end(), { code: 0, signal: null });
			} finally {
				g.kill();
			}
		}
	});

	test('errors: -32700, -32601, -32600; ids echoed exactly; the session survives', async () => {
		const g = new RawGateway({ ws: tree.ws });
		try {
			await g.initialize();
			let from = g.lines.length;
			g.send('{"jsonrpc":"2.0","id":1,"method":"ping"');
			let r = await g.line((_, m) => m.error?.code === -32700, { from });
			assert.equal(r.msg.id, null);
			assert.match(r.text, /^\{"jsonrpc":"2\.0","id":null,"error":\{"code":-32700,"message":"[^"]+"\}\}$/);

			from = g.lines.length;
			g.send('not json at all');
			r = await g.line((_, m) => m.error?.code === -32700, { from });
			assert.equal(r.msg.id, null);

			r = await g.request({ jsonrpc: '2.0', id: 'x', method: 'nope' });
			assert.equal(r.msg.id, 'x');
			assert.equal(r.msg.error.code, -32601);
			assert.equal(typeof r.msg.error.message, 'string');

			r = await g.request({ jsonrpc: '2.0', id: 7 });
			assert.equal(r.msg.id, 7);
			assert.equal(r.msg.error.code, -32600);

			r = await g.request({ jsonrpc: '1.0', id: 8, method: 'ping' });
			assert.equal(r.msg.error.code, -32600);

			// Ids are echoed byte for byte.
			for (const id of ['3.50', '1e2', '-0', '12345678901234567890', '"\\u00e9\\ud83d\\ude00"', '""', '"a\\"b"']) {
				from = g.lines.length;
				g.send(`{"jsonrpc":"2.0","id":${id},"method":"ping"}`);
				r = await g.line((text) => text.includes(`"id":${id},`), { from });
				assert.equal(r.text, `{"jsonrpc":"2.0","id":${id},"result":{}}`);
			}

			// A tools/call with an unknown tool over the wire.
			r = await g.request({ jsonrpc: '2.0', id: 'call-1', method: 'tools/call', params: { name: 'nope', arguments: {} } });
			assert.equal(r.msg.error.code, -32602);

			// Still serving.
			r = await g.request({ jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'read_file', arguments: { path: 'notes.txt' } } });
			assert.deepEqual(r.msg.result.content, [{ type: 'text', text: 'untracked notes\n' }]);
			assert.equal(r.msg.result.isError, false);
			// Every line is a single JSON value (newline-delimited framing).
			for (const l of g.lines) JSON.parse(l.toString('utf8'));
			assert.deepEqual(await g.end(), { code: 0, signal: null });
			assert.ok(!/^\{"jsonrpc"/m.test(g.stderr), 'protocol messages on stderr');
		} finally {
			g.kill();
		}
	});

	test('invalid UTF-8 output never breaks the JSON framing', async () => {
		const g = new RawGateway({ ws: tree.ws });
		try {
			await g.initialize();
			// surrogate, overlong, beyond U+10FFFF, a valid emoji, a truncated sequence
			const command = "printf '1\\355\\240\\2002\\300\\2003\\364\\220\\200\\2004\\360\\237\\230\\2005\\342\\202'";
			const r = await g.request({ jsonrpc: '2.0', id: 1, method: 'tools/call',
				params: { name: 'run_command', arguments: { command }, _meta: { progressToken: 'p' } } });
			// g.line() decodes every line with a fatal UTF-8 decoder: reaching here means valid UTF-8.
			const out = r.msg.result.content[0].text;
			assert.match(out, /^1\uFFFD+2\uFFFD+3\uFFFD+4😀5\uFFFD+$/u);
			const p = await g.line((_, m) => m.method === 'notifications/progress');
			assert.ok(p.index < r.index);
			assert.equal(r.msg.result._meta['toolcell/call'].stdoutBytes, 20);
			const ok = await g.request({ jsonrpc: '2.0', id: 2, method: 'ping' });
			assert.deepEqual(ok.msg.result, {});
		} finally {
			g.kill();
		}
	});

	test('EOF on stdin: exit status 0 (idle)', async () => {
		const g = new RawGateway({ ws: tree.ws });
		try {
			await g.initialize();
			const t0 = Date.now();
			assert.deepEqual(await g.end(), { code: 0, signal: null });
			assert.ok(Date.now() - t0 < 1000, `exit took ${Date.now() - t0} ms`);
		} finally {
			g.kill();
		}
	});

	test('EOF on stdin with calls running: short calls finish, long ones are killed, exit status 0', async () => {
		const g = new RawGateway({ ws: tree.ws });
		try {
			await g.initialize();
			g.send({ jsonrpc: '2.0', id: 'short', method: 'tools/call',
				params: { name: 'run_command', arguments: { command: 'sleep 0.3; echo done' } } });
			g.send({ jsonrpc: '2.0', id: 'long', method: 'tools/call',
				params: { name: 'run_command', arguments: { command: 'sleep 30 & echo "$$ $!"; wait' }, _meta: { progressToken: 'long' } } });
			const p = await g.line((_, m) => m.method === 'notifications/progress' && m.params.progressToken === 'long');
			const [shell, child] = p.msg.params.message.trim().split(' ').map(Number);
			const t0 = Date.now();
			const exit = await g.end();
			const took = Date.now() - t0;
			assert.deepEqual(exit, { code: 0, signal: null });
			assert.ok(took < 5000, `exit took ${took} ms`);
			const short = await g.line((_, m) => m.id === 'short');
			assert.deepEqual(short.msg.result.content, [{ type: 'text', text: 'done\n' }]);
			assert.ok(await waitFor(() => processGone(shell) && processGone(child, { allowZombie: true }), 1000),
				`processes ${shell} ${child} survived the gateway`);
		} finally {
			g.kill();
		}
	});
});

describe('output: content', () => {
	// A 1x1 PNG, and a tool that prints it as MCP content blocks.
	const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
	const PIXEL = [{ type: 'text', text: 'a pixel' }, { type: 'image', data: PNG, mimeType: 'image/png' }];
	let dir;
	before(() => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'toolcell-it-content-'));
		const common = { output: 'content', env: { LANG: 'C.UTF-8' }, grants: { read: ['@system'], exec: ['@system'] } };
		fs.writeFileSync(path.join(dir, 'pixel.json'), JSON.stringify({
			name: 'pixel', description: 'Prints a 1x1 PNG as an image block.',
			inputSchema: { type: 'object', additionalProperties: false },
			command: ['/bin/printf', '%s', JSON.stringify(PIXEL)], ...common,
		}));
		// Prints its argument and exits with `status`: any output, any failure.
		fs.writeFileSync(path.join(dir, 'emit.json'), JSON.stringify({
			name: 'emit', description: 'Prints `out` as its content blocks, then exits with `status`.',
			inputSchema: {
				type: 'object', required: ['out'], additionalProperties: false,
				properties: { out: { type: 'string' }, status: { type: 'integer' } },
			},
			command: ['/bin/sh', '-c', 'printf "%s" "$0"; exit "${1:-0}"', '{out}', '{status}'], ...common,
		}));
	});
	after(() => {
		if (dir) fs.rmSync(dir, { recursive: true, force: true });
	});

	test('toolcell check accepts the manifests', () => {
		assert.match(execFileSync(BIN, ['check', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }), /2 tools OK/);
	});

	test('over raw JSON-RPC: the blocks are the result; bad blocks, bad JSON and failures are tool errors', async () => {
		const g = new RawGateway({ ws: tree.ws, manifests: dir });
		try {
			await g.initialize();
			const r = await g.request({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'pixel', arguments: {} } });
			assert.deepEqual(r.msg.result.content, PIXEL);
			assert.equal(r.msg.result.isError, false);
			assert.equal(r.msg.result.structuredContent, undefined);
			assert.equal(r.msg.result._meta['toolcell/call'].stdoutBytes, Buffer.byteLength(JSON.stringify(PIXEL)));

			const emit = async (id, out, status) => (await g.request({ jsonrpc: '2.0', id, method: 'tools/call',
				params: { name: 'emit', arguments: status === undefined ? { out } : { out, status } } })).msg.result;
			const refused = async (id, out, message) => {
				const res = await emit(id, out);
				assert.equal(res.isError, true, JSON.stringify(res));
				assert.equal(res.content.length, 1, JSON.stringify(res));
				assert.equal(res.content[0].type, 'text');
				if (message instanceof RegExp) assert.match(res.content[0].text, message);
				else assert.equal(res.content[0].text, message);
			};
			const empty = await emit(2, '[]');
			assert.deepEqual(empty.content, []);
			assert.equal(empty.isError, false);
			await refused(3, JSON.stringify([{ type: 'text', text: 'ok' }, { type: 'image', data: PNG.slice(0, 11), mimeType: 'image/png' }]),
				"the tool's output is not valid content: [1].data: not base64");
			await refused(4, JSON.stringify([{ type: 'video', data: PNG }]),
				`the tool's output is not valid content: [0].type: unknown content type "video" (known: text, image, audio, resource_link, resource)`);
			await refused(5, JSON.stringify([{ type: 'text', text: 'x', color: 'red' }]),
				"the tool's output is not valid content: [0].color: unknown member (known: type, text, annotations, _meta)");
			await refused(6, JSON.stringify({ type: 'text', text: 'x' }),
				"the tool's output must be a JSON array of content blocks, not an object");
			await refused(7, 'a pixel\n', /^the tool's output is not valid JSON \(1:1: .+\)$/);
			await refused(8, '[{"type":"text","text":"x"},', /^the tool's output is not valid JSON \(1:\d+: .+\)$/);

			// A failing tool: its stdout as text and the failure, as for text tools.
			const failed = await emit(9, '[{"type":"text","text":"x"}]', 3);
			assert.equal(failed.isError, true);
			assert.deepEqual(failed.content, [{ type: 'text', text: '[{"type":"text","text":"x"}]' }, { type: 'text', text: 'exit status 3' }]);
			assert.deepEqual(await g.end(), { code: 0, signal: null });
		} finally {
			g.kill();
		}
	});

	test('the SDK client accepts every block type', async () => {
		const gw = await connect({ ws: tree.ws, manifests: dir });
		try {
			assert.deepEqual((await gw.client.callTool({ name: 'pixel', arguments: {} })).content, PIXEL);
			const blocks = [
				{ type: 'text', text: 'ünï ✓', annotations: { audience: ['user'], priority: 0.5, lastModified: '2025-01-12T15:00:58Z' }, _meta: { k: 1 } },
				{ type: 'image', data: PNG, mimeType: 'image/png' },
				{ type: 'audio', data: 'UklGRg==', mimeType: 'audio/wav' },
				{ type: 'resource_link', uri: 'file:///ws/README.md', name: 'README.md', title: 'Readme', description: 'd', mimeType: 'text/markdown', size: 12 },
				{ type: 'resource', resource: { uri: 'file:///ws/a.txt', mimeType: 'text/plain', text: 'hello' } },
				{ type: 'resource', resource: { uri: 'file:///ws/a.png', mimeType: 'image/png', blob: PNG } },
			];
			const r = await gw.client.callTool({ name: 'emit', arguments: { out: JSON.stringify(blocks) } });
			assert.equal(r.isError, false, JSON.stringify(r));
			assert.deepEqual(r.content, blocks);
		} finally {
			await gw.close();
		}
	});
});

describe('as an unprivileged user', () => {
	// RLIMIT_NPROC counts every task (thread) of the real uid. A tool's
	// `processes` limit must not depend on how many threads other programs of
	// the same user happen to run (an MCP host such as an editor or node runs
	// dozens). When the suite runs as root (the kernel exempts root from
	// RLIMIT_NPROC), the gateway is started as uid/gid 65534 for this test.
	test('write_file works while the same uid runs a multi-threaded process', async (t) => {
		const asRoot = process.getuid() === 0;
		const uid = asRoot ? 65534 : process.getuid();
		const gid = asRoot ? 65534 : process.getgid();
		const ids = asRoot ? { uid, gid } : {};
		// Can that user run the binary and read the manifests at all?
		const probe = spawn('/bin/sh', ['-c', 'test -x "$1" && test -r "$2"', 'sh', BIN, path.join(MANIFESTS, 'write_file.json')],
			{ ...ids, stdio: 'ignore' });
		const [code] = await new Promise((r) => probe.on('exit', (...a) => r(a)));
		if (code !== 0) {
			t.skip(`uid ${uid} cannot run ${BIN} or read ${MANIFESTS}`);
			return;
		}
		const ws = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'toolcell-it-uid-')));
		if (asRoot) fs.chownSync(ws, uid, gid);
		const busy = spawn(process.execPath, ['-e',
			"const { Worker } = require('node:worker_threads');" +
			"for (let i = 0; i < 16; i++) new Worker('setInterval(() => {}, 1000)', { eval: true });" +
			'setTimeout(() => process.exit(0), 30000);'], { ...ids, stdio: 'ignore' });
		let g;
		try {
			assert.ok(await waitFor(() => {
				try {
					return fs.readdirSync(`/proc/${busy.pid}/task`).length > 16;
				} catch {
					return false;
				}
			}, 5000), 'the multi-threaded helper did not start');
			g = new RawGateway({ ws, spawnOptions: ids });
			await g.initialize();
			const r = await g.request({ jsonrpc: '2.0', id: 1, method: 'tools/call',
				params: { name: 'write_file', arguments: { path: 'a/b.txt', content: 'unprivileged\n' } } });
			assert.equal(r.msg.result.isError, false, JSON.stringify(r.msg.result));
			assert.equal(fs.readFileSync(path.join(ws, 'a/b.txt'), 'utf8'), 'unprivileged\n');
		} finally {
			busy.kill('SIGKILL');
			g?.kill();
			fs.rmSync(ws, { recursive: true, force: true });
		}
	});
});
