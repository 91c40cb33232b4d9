// Shared pieces of the reliability suites (soak, abuse, faults): a scratch
// tree with its own TMPDIR, a gateway over stdio or HTTP, a raw stdio client
// that records every message, raw HTTP requests, and the gauges read from
// /proc (fds, threads, RSS, zombies, {tmp} directories left behind).
//
//   TOOLCELL_BIN         the binary (default: ../build/toolcell, relative to this file)
//   TOOLCELL_SOURCE_DIR  the repository root (default: the parent of this directory);
//                        integration/fixtures/reliability/ is read from it

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { children, comm, processGone, toolProcesses, waitFor } from './procs.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const BIN = path.resolve(process.env.TOOLCELL_BIN || path.join(HERE, '..', 'build', 'toolcell'));
export const SOURCE_DIR = path.resolve(process.env.TOOLCELL_SOURCE_DIR || path.join(HERE, '..'));
export const FIXTURES = path.join(SOURCE_DIR, 'integration', 'fixtures', 'reliability');
export const VERSION = '2025-11-25';

/** The fixtures' sleeps last 29.0417 s: each scratch copy gets a sleep of its
 *  own length (29.xxxx), so that the processes of this run can be found in
 *  /proc even after they left the gateway's tree, and never confused with
 *  another suite's running at the same time. */
const SLEEP_MARK = '29.0417';

// ---------------------------------------------------------------- scratch

/** A scratch tree: ws (the workspace), tmp (the gateway's TMPDIR, so that
 *  {tmp} directories left behind can be counted), manifests (a copy of the
 *  fixtures, or of the names given). */
export function makeScratch(prefix, tools = null) {
	const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `toolcell-${prefix}-`)));
	const s = {
		root,
		ws: path.join(root, 'ws'),
		tmp: path.join(root, 'tmp'),
		manifests: path.join(root, 'manifests'),
		mark: `29.${crypto.randomInt(1000, 10000)}`,
	};
	for (const d of [s.ws, s.tmp, s.manifests]) fs.mkdirSync(d);
	// The gateway and its tools run as this user or, for the tests as root,
	// may be asked to drop: keep the tree reachable.
	fs.chmodSync(root, 0o755);
	fs.chmodSync(s.tmp, 0o1777);
	for (const f of fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.json'))) {
		if (tools && !tools.includes(f.slice(0, -5))) continue;
		const text = fs.readFileSync(path.join(FIXTURES, f), 'utf8').replaceAll(SLEEP_MARK, s.mark);
		fs.writeFileSync(path.join(s.manifests, f), text);
	}
	s.remove = () => fs.rmSync(root, { recursive: true, force: true });
	return s;
}

// ---------------------------------------------------------------- gauges

function status(pid) {
	try {
		return fs.readFileSync(`/proc/${pid}/status`, 'utf8');
	} catch {
		return '';
	}
}

/** What the soak compares before and after: open fds, threads, resident KiB. */
export function gauge(pid) {
	const st = status(pid);
	const field = (name) => Number((new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(st) || [])[1]);
	let fds = NaN;
	try {
		fds = fs.readdirSync(`/proc/${pid}/fd`).length;
	} catch { /* gone */ }
	return { fds, threads: field('Threads'), rssKiB: field('VmRSS') };
}

export const fmtGauge = (g) => `fds ${g.fds}, threads ${g.threads}, RSS ${(g.rssKiB / 1024).toFixed(1)} MiB`;

function state(pid) {
	try {
		const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
		return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
	} catch {
		return null;
	}
}

/** The gateway's children that are zombies (exited, never reaped). */
export function zombies(pid) {
	return children(pid).filter((k) => state(k) === 'Z');
}

/** Live processes anywhere whose command line holds this run's sleep mark:
 *  tool processes that escaped the gateway's tree would still show here. */
export function markedProcesses(mark) {
	const out = [];
	for (const p of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(p)) continue;
		try {
			const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
			if (cmd.split('\0').includes(mark) && !processGone(Number(p))) out.push(Number(p));
		} catch { /* gone */ }
	}
	return out;
}

/** {tmp} directories (toolcell.XXXXXX) under a TMPDIR. */
export function tmpLeft(tmp) {
	return fs.readdirSync(tmp).filter((f) => f.startsWith('toolcell.'));
}

/** Whether the binary runs under AddressSanitizer (its quarantine keeps freed
 *  memory resident, so RSS bounds differ). */
export function isSanitized(pid) {
	try {
		return /libasan|libclang_rt\.asan/.test(fs.readFileSync(`/proc/${pid}/maps`, 'utf8'));
	} catch {
		return false;
	}
}

export function percentile(values, p) {
	if (values.length === 0) return NaN;
	const v = [...values].sort((a, b) => a - b);
	return v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)];
}

// ---------------------------------------------------------------- gateway

/** A running `toolcell serve` with its TMPDIR under the scratch tree.
 *  `http`: serve --http 127.0.0.1:0 with a token file; otherwise stdio.
 *  `wrap`: a command (argv) that the binary runs under (prlimit, ...). */
export class Gateway {
	static async start(s, { http: overHttp = false, args = [], wrap = [], env = {} } = {}) {
		const gw = new Gateway();
		gw.scratch = s;
		const argv = ['serve', '--manifests', s.manifests, '--workspace', s.ws, ...args];
		if (overHttp) {
			gw.token = crypto.randomBytes(32).toString('base64url');
			const tokenFile = path.join(s.root, `token-${crypto.randomBytes(4).toString('hex')}`);
			fs.writeFileSync(tokenFile, `${gw.token}\n`, { mode: 0o600 });
			argv.push('--http', '127.0.0.1:0', '--token-file', tokenFile);
		}
		const cmd = [...wrap, BIN, ...argv];
		gw.proc = spawn(cmd[0], cmd.slice(1), {
			cwd: s.ws,
			stdio: [overHttp ? 'ignore' : 'pipe', 'pipe', 'pipe'],
			env: { ...process.env, TMPDIR: s.tmp, ...env },
		});
		gw.pid = gw.proc.pid;
		gw.stderrChunks = [];
		gw.proc.stderr.on('data', (d) => gw.stderrChunks.push(d));
		gw.exited = new Promise((resolve) => gw.proc.on('exit', (code, signal) => resolve({ code, signal })));
		if (overHttp) {
			gw.proc.stdout.resume();
			const re = /serving MCP at http:\/\/127\.0\.0\.1:(\d+)\/mcp\n/;
			const ok = await waitFor(() => re.test(gw.stderr) || gw.proc.exitCode !== null, 10000);
			const m = re.exec(gw.stderr);
			assert.ok(ok && m, `the gateway did not start; stderr:\n${gw.stderr}`);
			gw.port = Number(m[1]);
		} else {
			gw.client = new StdioClient(gw.proc);
			await gw.client.initialize();
		}
		return gw;
	}
	get stderr() {
		return Buffer.concat(this.stderrChunks).toString();
	}
	get alive() {
		return this.proc.exitCode === null && this.proc.signalCode === null;
	}
	kill(sig = 'SIGKILL') {
		if (this.alive) this.proc.kill(sig);
	}
	/** Ends it as a user would (stdin closed, or SIGTERM) and waits. */
	async stop() {
		if (!this.alive) return this.exited;
		if (this.client) this.proc.stdin.end();
		else this.proc.kill('SIGTERM');
		const t = setTimeout(() => this.kill(), 5000);
		const r = await this.exited;
		clearTimeout(t);
		return r;
	}
}

// ---------------------------------------------------------------- stdio

/** Newline-delimited JSON-RPC over the gateway's stdin/stdout. Every message
 *  received is kept: `answers` maps each id (JSON-encoded, so 1 and "1"
 *  differ) to the list of responses with that id. */
export class StdioClient {
	constructor(proc) {
		this.proc = proc;
		/** Sees every line as received (the raw JSON text), when set. */
		this.onLine = null;
		this.answers = new Map();
		this.waiters = new Map();
		this.notifications = [];
		this.unparsable = [];
		let buf = '';
		proc.stdout.setEncoding('utf8');
		proc.stdout.on('data', (d) => {
			buf += d;
			let i;
			while ((i = buf.indexOf('\n')) >= 0) {
				const line = buf.slice(0, i);
				buf = buf.slice(i + 1);
				this.receive(line);
			}
		});
		proc.stdin.on('error', () => {});
	}
	receive(line) {
		this.onLine?.(line);
		let msg;
		try {
			msg = JSON.parse(line);
		} catch {
			this.unparsable.push(line);
			return;
		}
		if (!('id' in msg) || msg.method) {
			this.notifications.push(msg);
			return;
		}
		const key = JSON.stringify(msg.id);
		if (!this.answers.has(key)) this.answers.set(key, []);
		this.answers.get(key).push(msg);
		const w = this.waiters.get(key);
		if (w) {
			this.waiters.delete(key);
			w(msg);
		}
	}
	send(msg) {
		this.proc.stdin.write(`${typeof msg === 'string' ? msg : JSON.stringify(msg)}\n`);
	}
	/** Sends a request and resolves with its first answer. */
	request(id, method, params) {
		const key = JSON.stringify(id);
		const p = new Promise((resolve) => this.waiters.set(key, resolve));
		this.send(params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params });
		return p;
	}
	async initialize() {
		const r = await this.request('init', 'initialize', {
			protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 'toolcell-reliability', version: '1' },
		});
		assert.equal(r.result?.protocolVersion, VERSION, JSON.stringify(r));
		this.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
	}
}

// ---------------------------------------------------------------- HTTP

/** One request with node:http. `agent` false (default) makes a connection
 *  of its own, closed afterwards. Resolves { status, headers, raw (the body's
 *  bytes), text, json, events } (events: the JSON of each SSE data line). `onRequest(req)` sees
 *  the request before it is sent (to destroy it later); `onEvent(json)` sees
 *  each SSE event as it arrives. */
export function httpRequest(gw, { method = 'POST', path: p = '/mcp', headers = {}, body, agent = false, timeout = 30000, onRequest, onEvent } = {}) {
	return new Promise((resolve, reject) => {
		const req = http.request({ host: '127.0.0.1', port: gw.port, method, path: p, headers, agent });
		const timer = setTimeout(() => req.destroy(new Error(`no answer in ${timeout} ms`)), timeout);
		req.on('response', (res) => {
			const chunks = [];
			let pending = '';
			res.on('data', (d) => {
				chunks.push(d);
				if (!onEvent) return;
				pending += d;
				let i;
				while ((i = pending.indexOf('\n\n')) >= 0) {
					const data = pending.slice(0, i).split('\n').filter((l) => l.startsWith('data: '));
					pending = pending.slice(i + 2);
					for (const l of data) onEvent(JSON.parse(l.slice(6)));
				}
			});
			res.on('end', () => {
				clearTimeout(timer);
				const raw = Buffer.concat(chunks);
				const text = raw.toString();
				let json;
				try {
					json = JSON.parse(text);
				} catch { /* not JSON */ }
				let events;
				if ((res.headers['content-type'] || '').startsWith('text/event-stream'))
					events = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
				resolve({ status: res.statusCode, headers: res.headers, raw, text, json, events });
			});
			res.on('error', (e) => {
				clearTimeout(timer);
				reject(e);
			});
		});
		req.on('error', (e) => {
			clearTimeout(timer);
			reject(e);
		});
		onRequest?.(req);
		if (typeof body === 'function') body(req);
		else req.end(body);
	});
}

/** A session spoken to with raw requests over its own keep-alive connection. */
export class HttpSession {
	constructor(gw, { keepAlive = true } = {}) {
		this.gw = gw;
		this.sid = null;
		this.agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: 4 }) : false;
	}
	headers(extra = {}) {
		const h = {
			Authorization: `Bearer ${this.gw.token}`,
			'Content-Type': 'application/json',
			Accept: 'application/json, text/event-stream',
			'MCP-Protocol-Version': VERSION,
		};
		if (this.sid) h['Mcp-Session-Id'] = this.sid;
		return { ...h, ...extra };
	}
	post(msg, opts = {}) {
		const { headers = {}, ...rest } = opts;
		return httpRequest(this.gw, {
			headers: this.headers(headers), agent: this.agent,
			body: typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg), ...rest,
		});
	}
	async init() {
		const r = await this.post({
			jsonrpc: '2.0', id: 0, method: 'initialize',
			params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 'toolcell-reliability', version: '1' } },
		});
		assert.equal(r.status, 200, r.text);
		this.sid = r.headers['mcp-session-id'];
		const n = await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
		assert.equal(n.status, 202, n.text);
		return this;
	}
	async close() {
		if (this.sid) {
			const h = this.headers();
			delete h['Content-Type'];
			await httpRequest(this.gw, { method: 'DELETE', headers: h, agent: this.agent }).catch(() => {});
		}
		if (this.agent) this.agent.destroy();
	}
}

// ---------------------------------------------------------------- raw sockets

/** A raw TCP connection to an HTTP gateway that records what it gets:
 *  `connected`, `firstData` and `closed` (Date.now() at each, or null), `data` (every byte
 *  received) and `error` (the code, if one came). `head` (a string or a
 *  Buffer) is written once connected. A peer's FIN is answered with ours. */
export function rawSocket(gw, head) {
	const so = net.connect(gw.port, '127.0.0.1');
	const r = { so, connected: null, closed: null, error: null, chunks: [] };
	r.done = new Promise((resolve) => so.on('close', () => {
		r.closed = Date.now();
		resolve(r);
	}));
	so.on('connect', () => {
		r.connected = Date.now();
		if (head !== undefined) so.write(head);
	});
	so.on('data', (d) => {
		r.firstData ??= Date.now();
		r.chunks.push(d);
	});
	so.on('end', () => so.end());
	so.on('error', (e) => (r.error = e.code));
	Object.defineProperty(r, 'data', { get: () => Buffer.concat(r.chunks) });
	return r;
}

/** Request headers for a raw POST of `length` body bytes in a session (or
 *  none: sid null). */
export function rawPostHead(gw, sid, length, extra = '') {
	return `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nAuthorization: Bearer ${gw.token}\r\n` +
		'Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n' +
		`MCP-Protocol-Version: ${VERSION}\r\n${sid ? `Mcp-Session-Id: ${sid}\r\n` : ''}` +
		`${length === null ? '' : `Content-Length: ${length}\r\n`}${extra}\r\n`;
}

/** The body of a raw HTTP/1.1 response with chunked transfer coding:
 *  { head (the status line and headers), body (a Buffer), complete (the
 *  last chunk arrived) }. */
export function dechunk(buf) {
	const end = buf.indexOf('\r\n\r\n');
	const head = buf.subarray(0, end < 0 ? 0 : end).toString();
	const parts = [];
	let pos = end + 4;
	let complete = false;
	while (end >= 0 && pos < buf.length) {
		const eol = buf.indexOf('\r\n', pos);
		if (eol < 0) break;
		const n = parseInt(buf.subarray(pos, eol).toString(), 16);
		if (!(n >= 0)) throw new Error(`not a chunk size at byte ${pos}: ${JSON.stringify(buf.subarray(pos, pos + 40).toString())}`);
		if (n === 0) {
			complete = true;
			break;
		}
		parts.push(buf.subarray(eol + 2, Math.min(buf.length, eol + 2 + n)));
		pos = eol + 2 + n + 2;
	}
	return { head, body: Buffer.concat(parts), complete };
}

export { children, comm, processGone, toolProcesses, waitFor };
