// The escape suite: hostile programs (tests/probe.c, one attempt per run)
// under real manifests, through the real binary, each outcome asserted
// exactly (errno, count, or killed) beside a positive control that shows the
// granted thing still works. The whole table runs three times: as the user
// running the suite (root in CI), as nobody, and with user namespaces forced
// off (TOOLCELL_NO_USERNS=1, what Ubuntu's AppArmor restriction leaves).
//
//   TOOLCELL_BIN    the binary        TOOLCELL_PROBE  the probe program
//
// Run: node --test escape.test.mjs   (CMake: ctest -R integration_escape)

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(process.env.TOOLCELL_BIN || path.join(HERE, '..', 'build', 'toolcell'));
const PROBE = path.resolve(process.env.TOOLCELL_PROBE || path.join(HERE, '..', 'build', 'tests', 'probe'));
const isRoot = process.getuid() === 0;

/** A manifest running the probe with argv from the "args" array argument. */
function manifest(name, grants, limits = {}) {
	return {
		name,
		description: `escape suite: ${name}`,
		inputSchema: {
			type: 'object',
			properties: { args: { type: 'array', items: { type: 'string' } } },
			required: ['args'],
			additionalProperties: false,
		},
		command: [PROBE, '{args}'],
		cwd: '{workspace}',
		env: { LANG: 'C.UTF-8' },
		grants: {
			read: ['@system'], write: [], exec: ['@system', PROBE], net: [], listen: [],
			...grants,
			limits: { timeout_s: 5, cpu_s: 5, memory_mb: 256, processes: 16, open_files: 64,
				file_size_mb: 1, output_kb: 64, ...limits },
		},
	};
}

function canReach(uid, gid, file) {
	const r = spawnSync('/bin/sh', ['-c', 'test -x "$1"', 'sh', file], { uid, gid });
	return r.status === 0;
}

function modes() {
	const m = [{ name: isRoot ? 'as root' : 'as the invoking user', ids: {}, env: {} }];
	if (isRoot && canReach(65534, 65534, PROBE) && canReach(65534, 65534, BIN))
		m.push({ name: 'as nobody', ids: { uid: 65534, gid: 65534 }, env: {} });
	m.push({ name: 'with user namespaces off', ids: {}, env: { TOOLCELL_NO_USERNS: '1' } });
	return m;
}

for (const mode of modes()) {
	describe(`escape suite ${mode.name}`, () => {
		let root, ws, mdir, server, port, listenPort;
		const seen = [];

		before(async () => {
			root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'toolcell-esc-')));
			ws = path.join(root, 'ws');
			mdir = path.join(root, 'manifests');
			fs.mkdirSync(ws);
			fs.mkdirSync(mdir);
			fs.writeFileSync(path.join(ws, 'ro.txt'), 'read only\n');
			fs.chmodSync(path.join(ws, 'ro.txt'), 0o644);
			fs.writeFileSync(path.join(root, 'secret.txt'), 'secret\n');
			if (mode.ids.uid !== undefined) {
				for (const p of [root, ws, mdir, path.join(ws, 'ro.txt')])
					fs.chownSync(p, mode.ids.uid, mode.ids.gid);
			}
			// A TCP echo server on every local address: only the policy
			// decides who reaches it. A process of its own, because the
			// calls below block this one in spawnSync.
			server = spawn(process.execPath, ['-e',
				"const s = require('node:net').createServer((c) => c.on('data', (d) => c.end('echo ' + d)));" +
				"s.listen(0, '0.0.0.0', () => console.log(s.address().port));"], { stdio: ['ignore', 'pipe', 'inherit'] });
			port = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
			listenPort = port + 1 < 65535 ? port + 1 : port - 1;
			const tools = [
				manifest('ro', { read: ['@system', '{workspace}'] }),
				manifest('rw', { write: ['{workspace}'] }),
				manifest('net_ip', { net: [`127.0.0.1:${port}`] }),
				manifest('net_name', { net: [`localhost:${port}`] }),
				manifest('net_any', { net: ['0.0.0.0/0:*', '[::]/0:*'] }),
				manifest('listen', { listen: [listenPort] }),
				manifest('bomb', {}, { processes: 8 }),
			];
			for (const t of tools)
				fs.writeFileSync(path.join(mdir, `${t.name}.json`), JSON.stringify(t, null, 2));
		});

		after(() => {
			server?.kill();
			fs.rmSync(root, { recursive: true, force: true });
		});

		/** One call through `toolcell run`; returns the probe's stdout line. */
		function run(tool, ...args) {
			const r = spawnSync(BIN, ['run', tool, '--manifests', mdir, '--workspace', ws,
				'--args', JSON.stringify({ args })], {
				cwd: ws, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', ...mode.env }, timeout: 20000,
				...mode.ids,
			});
			const out = r.stdout.trim();
			seen.push(`${tool} ${args.join(' ')} -> ${out} (exit ${r.status}) ${r.stderr.trim()}`);
			return { out, status: r.status, stderr: r.stderr };
		}
		const expect = (tool, args, want) => {
			const r = run(tool, ...args);
			assert.equal(r.out, want, `${tool} ${args.join(' ')}: stderr ${r.stderr}`);
		};

		test('files: secrets outside grants, with the granted file as control', () => {
			expect('ro', ['read', path.join(ws, 'ro.txt')], 'ok');
			expect('ro', ['read', path.join(root, 'secret.txt')], 'EACCES');
			expect('ro', ['read', '/etc/shadow'], 'EACCES');
			expect('ro', ['read', `${ws}/../secret.txt`], 'EACCES');
		});

		test('metadata: chmod/chown/utimes/xattr only beneath write grants', () => {
			const ro = path.join(ws, 'ro.txt');
			expect('ro', ['chmod', ro, '777'], 'EPERM');
			expect('ro', ['fchmod', ro, '777'], 'EPERM');
			expect('ro', ['touch', ro], 'EPERM');
			expect('ro', ['chown', ro, '0'], 'EPERM');
			assert.equal(fs.statSync(ro).mode & 0o7777, 0o644, 'the mode changed');
			// A write-granted tool: inside the workspace it works...
			fs.writeFileSync(path.join(ws, 'w.txt'), 'w\n');
			if (mode.ids.uid !== undefined) fs.chownSync(path.join(ws, 'w.txt'), mode.ids.uid, mode.ids.gid);
			expect('rw', ['chmod', path.join(ws, 'w.txt'), '600'], 'ok');
			assert.equal(fs.statSync(path.join(ws, 'w.txt')).mode & 0o7777, 0o600);
			expect('rw', ['touch', path.join(ws, 'w.txt')], 'ok');
			// ...a setuid bit is never made...
			expect('rw', ['chmod', path.join(ws, 'w.txt'), '4755'], 'ok');
			assert.equal(fs.statSync(path.join(ws, 'w.txt')).mode & 0o7777, 0o755);
			// ...and outside it nothing changes: system files and paths through ..
			expect('rw', ['chmod', '/etc/passwd', '666'], 'EPERM');
			expect('rw', ['fchmod', '/etc/passwd', '666'], 'EPERM');
			expect('rw', ['chmod', `${ws}/../secret.txt`, '666'], 'EPERM');
			expect('rw', ['touch', '/etc/passwd'], 'EPERM');
			// Ownership stays: chown to the tool's own uid is a no-op, any
			// other owner is refused.
			expect('rw', ['chown', path.join(ws, 'w.txt'), String(mode.ids.uid ?? process.getuid())], 'ok');
			expect('rw', ['chown', path.join(ws, 'w.txt'), '12345'], 'EPERM');
			expect('ro', ['chown', path.join(ws, 'ro.txt'), String(mode.ids.uid ?? process.getuid())], 'EPERM');
			expect('rw', ['setxattr', path.join(ws, 'w.txt')], 'EOPNOTSUPP');
			fs.symlinkSync('/etc/passwd', path.join(ws, 'link'));
			expect('rw', ['chmod', path.join(ws, 'link'), '666'], 'EPERM');
			fs.rmSync(path.join(ws, 'link'));
		});

		test('network: exactly the granted host and port', () => {
			expect('net_ip', ['tcp', '127.0.0.1', String(port), 'hi'], 'ok echo hi');
			expect('net_ip', ['tcp-nb', '127.0.0.1', String(port)], 'ok');
			expect('net_ip', ['tcp', '127.0.0.2', String(port)], 'EACCES');
			expect('net_ip', ['tcp', '127.0.0.1', String(listenPort)], 'EACCES');
			expect('net_ip', ['tcp', '::ffff:127.0.0.2', String(port)], 'EACCES');
			expect('net_name', ['tcp', '127.0.0.1', String(port), 'name'], 'ok echo name');
			expect('net_ip', ['udp', '127.0.0.1', String(port)], 'EPROTONOSUPPORT');
			expect('net_ip', ['mptcp', '127.0.0.1', String(port)], 'EPROTONOSUPPORT');
			expect('net_ip', ['socket', 'netlink', 'stream'], 'EAFNOSUPPORT');
			expect('net_ip', ['socket', 'packet', 'stream'], 'EAFNOSUPPORT');
			expect('net_ip', ['socket', 'unix', 'stream'], 'EAFNOSUPPORT');
			expect('ro', ['tcp', '127.0.0.1', String(port)], 'EAFNOSUPPORT');
		});

		test('network: cloud metadata only when listed literally', () => {
			expect('net_any', ['tcp', '127.0.0.1', String(port), 'any'], 'ok echo any');
			expect('net_any', ['tcp', '169.254.169.254', '80'], 'EACCES');
			expect('net_any', ['tcp', '::ffff:169.254.169.254', '80'], 'EACCES');
			expect('net_any', ['tcp', 'fd00:ec2::254', '80'], 'EACCES');
			expect('net_any', ['tcp', '0.0.0.0', String(port)], 'EACCES');
		});

		test('listen: the granted port only', () => {
			expect('listen', ['listen', String(listenPort)], 'ok');
			expect('listen', ['listen', String(port === 65534 ? 65533 : 65534)], 'EACCES');
			expect('listen', ['tcp', '127.0.0.1', String(port)], 'EACCES');
		});

		test('unix sockets: pathname and abstract are unreachable, socketpair works', () => {
			expect('ro', ['socketpair'], 'ok');
			expect('ro', ['socketpair-dgram'], 'EPROTONOSUPPORT');
			expect('ro', ['connect', '/run/dbus/system_bus_socket'], 'EAFNOSUPPORT');
			expect('ro', ['connect', '@toolcell-abstract'], 'EAFNOSUPPORT');
		});

		test('syscalls: denied families and the 32-bit ABIs', () => {
			for (const what of ['mount', 'unshare', 'ptrace', 'bpf', 'keyctl', 'setsid', 'personality'])
				expect('ro', [what], 'EPERM');
			expect('ro', ['clone3'], 'ENOSYS');
			expect('ro', ['io_uring'], 'EPERM');
			expect('ro', ['userfaultfd'], 'EPERM');
			expect('ro', ['personality-query'], 'ok');
			for (const abi of ['i386', 'x32']) {
				const r = run('ro', abi);
				assert.equal(r.status, 128 + 31, `${abi}: ${r.out} ${r.stderr}`); // SIGSYS
			}
		});

		test('privilege: no capabilities, no_new_privs, a mapped unprivileged uid', () => {
			assert.match(run('ro', 'caps').out, /^ok eff=0+ prm=0+ inh=0+ bnd0=[01]$/);
			if (isRoot && mode.ids.uid === undefined)
				assert.equal(run('ro', 'caps').out.slice(-6), 'bnd0=0', 'the bounding set of a root gateway');
			expect('ro', ['nnp'], 'ok 1');
			const r = run('ro', 'uid');
			const [, uid] = r.out.split(' ');
			if (mode.env.TOOLCELL_NO_USERNS || mode.ids.uid !== undefined)
				assert.equal(uid, String(mode.ids.uid ?? process.getuid()));
			else
				assert.equal(uid, String(process.getuid()));
		});

		test('processes: a fork bomb stops at the limit, as root too', () => {
			const r = run('bomb', 'forkbomb', '100');
			const [n, err] = r.out.split(' ');
			assert.equal(err, 'EAGAIN', r.out);
			// The leader counts: at most processes - 1 more. Without a user
			// namespace an unprivileged uid's other processes count as well.
			assert.ok(Number(n) >= 1 && Number(n) <= 7, r.out);
			if (!mode.env.TOOLCELL_NO_USERNS || isRoot && mode.ids.uid === undefined)
				assert.equal(n, '7');
		});

		test('lifetime: a daemon dies with the gateway when it is SIGKILLed', async () => {
			const g = spawn(BIN, ['serve', '--manifests', mdir, '--workspace', ws], {
				cwd: ws, env: { PATH: '/usr/bin:/bin', ...mode.env }, stdio: ['pipe', 'pipe', 'pipe'], ...mode.ids,
			});
			let out = '';
			g.stdout.on('data', (d) => { out += d; });
			const send = (m) => g.stdin.write(JSON.stringify(m) + '\n');
			send({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'esc', version: '1' } } });
			send({ jsonrpc: '2.0', method: 'notifications/initialized' });
			// A daemon double-forked from a call that is still running.
			send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'ro', arguments: { args: ['daemon-wait'] }, _meta: { progressToken: 2 } } });
			let pid2;
			for (let i = 0; i < 100 && !pid2; i++) {
				for (const line of out.split('\n')) {
					if (!line) continue;
					const m = JSON.parse(line);
					if (m.method === 'notifications/progress' && m.params.progressToken === 2)
						pid2 = Number(m.params.message.split(' ')[1]);
				}
				if (!pid2) await sleep(50);
			}
			assert.ok(pid2, `no daemon pid; got ${out}`);
			const alive2 = () => {
				try {
					const st = fs.readFileSync(`/proc/${pid2}/stat`, 'utf8');
					return st.slice(st.lastIndexOf(')') + 2)[0] !== 'Z';
				} catch {
					return false;
				}
			};
			assert.ok(alive2(), 'the control: the daemon runs while the call does');
			g.kill('SIGKILL');
			let gone = false;
			for (let i = 0; i < 100 && !gone; i++) {
				gone = !alive2();
				if (!gone) await sleep(20);
			}
			assert.ok(gone, `daemon ${pid2} survived the gateway's SIGKILL`);
		});

		test('resources: memory, file size, fds, spin and output are bounded', () => {
			expect('ro', ['rlimit', 'core'], 'ok 0');
			expect('ro', ['rlimit', 'nofile'], 'ok 64');
			expect('ro', ['rlimit', 'fsize'], `ok ${1 << 20}`);
			const spin = run('ro', 'spin');
			assert.notEqual(spin.status, 0);
		});

		after(() => {
			if (process.env.TOOLCELL_ESCAPE_VERBOSE) console.log(seen.join('\n'));
		});
	});
}
