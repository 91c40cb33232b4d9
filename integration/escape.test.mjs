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
import net from 'node:net';
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
		let root, ws, mdir, server, port, listenPort, mounts;
		const seen = [];

		before(async () => {
			// Calls make mounts in namespaces of their own; not one may
			// reach the host's mount table (compared in the last test).
			mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
			root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'toolcell-esc-')));
			ws = path.join(root, 'ws');
			mdir = path.join(root, 'manifests');
			fs.mkdirSync(ws);
			fs.mkdirSync(mdir);
			fs.writeFileSync(path.join(ws, 'ro.txt'), 'read only\n');
			fs.chmodSync(path.join(ws, 'ro.txt'), 0o644);
			fs.writeFileSync(path.join(root, 'secret.txt'), 'secret\n');
			// Files of the tool's own uid, so that only the sandbox (not
			// permissions or protected_hardlinks) can refuse a link.
			fs.mkdirSync(path.join(ws, 'out', 'sub'), { recursive: true });
			fs.writeFileSync(path.join(ws, 'out', 'a'), 'a\n');
			fs.writeFileSync(path.join(root, 'mine.txt'), 'mine\n');
			if (mode.ids.uid !== undefined) {
				for (const p of [root, ws, mdir, path.join(ws, 'ro.txt'), path.join(ws, 'out'),
					path.join(ws, 'out', 'sub'), path.join(ws, 'out', 'a'), path.join(root, 'mine.txt')])
					fs.chownSync(p, mode.ids.uid, mode.ids.gid);
			}
			// A TCP echo server on every local address: only the policy
			// decides who reaches it. A process of its own, because the
			// calls below block this one in spawnSync.
			server = spawn(process.execPath, ['-e',
				"const s = require('node:net').createServer((c) => c.on('data', (d) => c.end('echo ' + d)));" +
				"s.listen(0, '0.0.0.0', () => console.log(s.address().port));"], { stdio: ['ignore', 'pipe', 'inherit'] });
			port = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
			// A port that was free a moment ago (not port + 1, which any
			// other test's ephemeral socket may hold).
			listenPort = await new Promise((resolve) => {
				const probe = net.createServer().listen(0, '127.0.0.1', () => {
					const p = probe.address().port;
					probe.close(() => resolve(p));
				});
			});
			const tools = [
				manifest('ro', { read: ['@system', '{workspace}'] }),
				manifest('rw', { write: ['{workspace}'] }),
				manifest('net_ip', { net: [`127.0.0.1:${port}`] }),
				manifest('net_name', { net: [`localhost:${port}`] }),
				manifest('net_any', { net: ['0.0.0.0/0:*', '[::]/0:*'] }),
				manifest('listen', { listen: [listenPort] }),
				manifest('bomb', {}, { processes: 8 }),
				// /proc readable, so only the kernel's ptrace checks and
				// Landlock's domains stand between a tool and the gateway's
				// environment and memory. A long timeout: it also runs the
				// concurrent call that the others attack.
				manifest('proc', { read: ['@system', '/proc'] }, { timeout_s: 30 }),
				// The workspace read-only, one folder of it writable.
				manifest('split', { read: ['@system', '{workspace}'], write: ['{workspace}/out'] }),
				manifest('small', {}, { memory_mb: 64, open_files: 16 }),
				// {tmp} is its working directory: a tmpfs of tmp_mb where
				// the call can have a mount namespace (every mode here).
				{ ...manifest('tmp', { write: ['{tmp}'] }, { tmp_mb: 2, file_size_mb: 4 }), cwd: '{tmp}' },
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

		/** A `toolcell serve` over stdio, its session initialized. */
		async function serve() {
			const g = spawn(BIN, ['serve', '--manifests', mdir, '--workspace', ws], {
				cwd: ws, env: { PATH: '/usr/bin:/bin', ...mode.env }, stdio: ['pipe', 'pipe', 'pipe'], ...mode.ids,
			});
			const results = new Map(); // request id -> { resolve, reject }
			const firsts = new Map(); // progress token -> { resolve, reject }
			let buf = '', next = 0, exited = false;
			// Files a waiter under key; nothing for 10 s fails it, so a
			// gateway that hangs fails the test instead of hanging it.
			const wait = (map, key, resolve, reject) => {
				const timer = setTimeout(() => {
					map.delete(key);
					reject(new Error(`no answer for ${key} in 10 s`));
				}, 10000);
				map.set(key, {
					resolve: (v) => { clearTimeout(timer); resolve(v); },
					reject: (e) => { clearTimeout(timer); reject(e); },
				});
			};
			g.stdout.on('data', (d) => {
				buf += d;
				for (let nl; (nl = buf.indexOf('\n')) >= 0; buf = buf.slice(nl + 1)) {
					const m = JSON.parse(buf.slice(0, nl));
					if (m.method === 'notifications/progress') {
						firsts.get(m.params.progressToken)?.resolve(m.params.message);
						firsts.delete(m.params.progressToken);
					} else if (m.method === undefined) {
						results.get(m.id)?.resolve(m);
						results.delete(m.id);
					}
				}
			});
			// A gateway that dies fails everything pending at once.
			g.on('exit', (code, sig) => {
				exited = true;
				for (const w of [...results.values(), ...firsts.values()])
					w.reject(new Error(`the gateway exited (${code ?? sig})`));
				results.clear();
				firsts.clear();
			});
			const request = (method, params, token) => new Promise((resolve, reject) => {
				const id = next++;
				if (exited) return reject(new Error('the gateway exited'));
				wait(results, id, resolve, reject);
				if (token !== undefined) params = { ...params, _meta: { progressToken: token } };
				g.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
			});
			await request('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'esc', version: '1' } });
			g.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
			return {
				pid: g.pid,
				/** One call to the end: its result. */
				call: async (tool, args) => (await request('tools/call', { name: tool, arguments: { args } })).result,
				/** One call left running: resolves with its first stdout chunk. */
				start: (tool, args) => new Promise((resolve, reject) => {
					const token = `t${next}`;
					wait(firsts, token, resolve, reject);
					request('tools/call', { name: tool, arguments: { args } }, token).catch(() => {});
				}),
				ping: () => request('ping', {}),
				/** SIGTERM cancels the calls in flight; resolves when it exited. */
				close: async () => {
					if (exited) return;
					const gone = new Promise((resolve) => g.once('exit', resolve));
					g.kill('SIGTERM');
					await gone;
				},
				kill: (sig) => g.kill(sig),
			};
		}
		/** One call through a serve(): the probe's stdout, and the result. */
		async function served(s, tool, ...args) {
			const res = await s.call(tool, args);
			const out = (res.content[0]?.text ?? '').trim();
			seen.push(`serve ${tool} ${args.join(' ')} -> ${out.split('\n').join(' | ')}`);
			return { out, res };
		}
		const expectServed = async (s, tool, args, want) => {
			const r = await served(s, tool, ...args);
			assert.equal(r.out, want, `${tool} ${args.join(' ')}: ${JSON.stringify(r.res)}`);
		};
		const alive = (pid) => {
			try {
				const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
				return st.slice(st.lastIndexOf(')') + 2)[0] !== 'Z';
			} catch {
				return false;
			}
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
			// @system grants writing to /dev/null, not its metadata: a
			// root gateway's tool must not chmod the machine's /dev/null.
			const devnull = fs.statSync('/dev/null').mode & 0o7777;
			expect('ro', ['chmod', '/dev/null', '600'], 'EPERM');
			expect('rw', ['chmod', '/dev/null', '600'], 'EPERM');
			expect('rw', ['touch', '/dev/null'], 'EPERM');
			assert.equal(fs.statSync('/dev/null').mode & 0o7777, devnull, '/dev/null changed');
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

		test('files: link and rename never carry a file into a write grant, truncate stays out', () => {
			const ro = path.join(ws, 'ro.txt');
			const out = path.join(ws, 'out');
			// Controls: inside the write grant, link, rename (into a
			// subfolder too) and truncate work.
			expect('split', ['link', path.join(out, 'a'), path.join(out, 'b')], 'ok');
			expect('split', ['rename', path.join(out, 'b'), path.join(out, 'sub', 'c')], 'ok');
			expect('split', ['truncate', path.join(out, 'sub', 'c')], 'ok');
			assert.equal(fs.statSync(path.join(out, 'a')).size, 0, 'the link was not a link');
			// A read-only file linked into the write grant would become
			// writable: Landlock refuses the reparenting (EXDEV), also for
			// a file outside every grant.
			expect('split', ['link', ro, path.join(out, 'l')], 'EXDEV');
			expect('split', ['link', path.join(root, 'mine.txt'), path.join(out, 'm')], 'EXDEV');
			expect('rw', ['link', path.join(root, 'mine.txt'), path.join(ws, 'm')], 'EXDEV');
			// Renaming needs remove_file where the file is: EACCES.
			expect('split', ['rename', ro, path.join(out, 'r')], 'EACCES');
			// Out of the write grant into the read-only part: make_reg is missing.
			expect('split', ['link', path.join(out, 'a'), path.join(ws, 'a2')], 'EACCES');
			expect('split', ['rename', path.join(out, 'a'), path.join(ws, 'a3')], 'EACCES');
			// Truncate is its own Landlock right, granted with write only.
			expect('split', ['truncate', ro], 'EACCES');
			expect('split', ['truncate', '/etc/passwd'], 'EACCES');
			assert.equal(fs.readFileSync(ro, 'utf8'), 'read only\n');
			assert.equal(fs.statSync(ro).nlink, 1);
			assert.equal(fs.statSync(path.join(root, 'mine.txt')).nlink, 1);
			assert.deepEqual(fs.readdirSync(out).sort(), ['a', 'sub']);
			assert.deepEqual(fs.readdirSync(path.join(out, 'sub')), ['c']);
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
			const s = await serve();
			try {
				// A daemon double-forked from a call that is still running.
				const pid2 = Number((await s.start('ro', ['daemon-wait'])).split(' ')[1]);
				assert.ok(pid2, 'no daemon pid');
				assert.ok(alive(pid2), 'the control: the daemon runs while the call does');
				s.kill('SIGKILL');
				let gone = false;
				for (let i = 0; i < 100 && !gone; i++) {
					gone = !alive(pid2);
					if (!gone) await sleep(20);
				}
				assert.ok(gone, `daemon ${pid2} survived the gateway's SIGKILL`);
			} finally {
				await s.close();
			}
		});

		test('signals, ptrace and /proc: nothing outside the call, not the gateway, not a concurrent call', async () => {
			const s = await serve();
			try {
				// The gateway, its keeper, and a concurrent call of the same
				// tool: the same uid in every mode, a Landlock domain apart.
				const gw = String(s.pid);
				const keeper = fs.readdirSync('/proc').find((p) => {
					try {
						const st = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
						return st.includes('(toolcell-keeper)') &&
							st.slice(st.lastIndexOf(')') + 2).split(' ')[1] === gw;
					} catch {
						return false;
					}
				});
				assert.ok(keeper, 'the gateway has no keeper process');
				const victim = (await s.start('proc', ['sleep', '30'])).split(' ')[1].trim();
				assert.ok(alive(victim), 'the concurrent call runs');
				// Controls: a tool may signal its own child and read its own /proc.
				await expectServed(s, 'proc', ['kill-child'], 'ok');
				await expectServed(s, 'proc', ['read', '/proc/self/status'], 'ok');
				await expectServed(s, 'proc', ['read', '/proc/self/environ'], 'ok');
				for (const pid of [gw, keeper, victim]) {
					// Landlock's signal scope: EPERM for every signal, even 0
					// (which would only tell the pid exists), through kill
					// and through a pidfd.
					await expectServed(s, 'proc', ['kill', pid, '0'], 'EPERM');
					await expectServed(s, 'proc', ['kill', pid, '9'], 'EPERM');
					await expectServed(s, 'proc', ['pidfd-kill', pid, '9'], 'EPERM');
					// seccomp refuses ptrace and process_vm_readv outright.
					await expectServed(s, 'proc', ['ptrace', pid], 'EPERM');
					await expectServed(s, 'proc', ['vm-read', pid], 'EPERM');
					// With /proc granted the kernel's ptrace check refuses
					// (EACCES from mm_access and proc_fd_access_allowed);
					// without, Landlock refuses the open (EACCES).
					for (const f of ['environ', 'mem', 'fd/0', 'cwd/ro.txt'])
						await expectServed(s, 'proc', ['read', `/proc/${pid}/${f}`], 'EACCES');
					await expectServed(s, 'ro', ['read', `/proc/${pid}/environ`], 'EACCES');
				}
				// The whole process group of the concurrent call.
				await expectServed(s, 'proc', ['kill', `-${victim}`, '9'], 'EPERM');
				await expectServed(s, 'proc', ['ptrace-traceme'], 'EPERM');
				await expectServed(s, 'proc', ['read', '/proc/1/environ'], 'EACCES');
				assert.ok(alive(victim), 'the concurrent call was killed');
				assert.ok(alive(keeper), 'the keeper was killed');
				await s.ping();
			} finally {
				await s.close();
			}
		});

		test('resources: memory, file size, fds, spin and output are bounded', () => {
			expect('ro', ['rlimit', 'core'], 'ok 0');
			expect('ro', ['rlimit', 'nofile'], 'ok 64');
			expect('ro', ['rlimit', 'fsize'], `ok ${1 << 20}`);
			const spin = run('ro', 'spin');
			assert.notEqual(spin.status, 0);
		});

		test('memory: allocations stop at memory_mb with ENOMEM, and the gateway answers on', async () => {
			const s = await serve();
			try {
				await expectServed(s, 'small', ['alloc', '32'], '32 ok');
				// 64 MiB of address space (RLIMIT_AS): malloc fails, the
				// call is not killed. The program, libc and stack take a few.
				const got = (await served(s, 'small', 'alloc', '4096')).out;
				const [n, err] = got.split(' ');
				assert.equal(err, 'ENOMEM', got);
				assert.ok(Number(n) >= 56 && Number(n) < 64, got);
				await expectServed(s, 'small', ['alloc', '1'], '1 ok');
				await s.ping();
			} finally {
				await s.close();
			}
		});

		test('output: a 100 MB flood is cut at exactly output_kb and the call killed at once', async () => {
			const flood = String(100 << 20);
			let t0 = Date.now();
			const r = spawnSync(BIN, ['run', 'ro', '--manifests', mdir, '--workspace', ws,
				'--args', JSON.stringify({ args: ['output', flood] })], {
				cwd: ws, env: { PATH: '/usr/bin:/bin', ...mode.env }, timeout: 20000, maxBuffer: 1 << 30, ...mode.ids,
			});
			assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
			assert.equal(r.stdout.length, 64 * 1024);
			assert.ok(r.stdout.every((c) => c === 0x78), 'the output is not the tool\'s');
			assert.equal(r.status, 128 + 9, String(r.stderr));
			assert.equal(String(r.stderr), 'toolcell: killed: output exceeded 64 KiB (output_kb); output truncated\n');
			// Over MCP: the same cut, and the gateway serves the next call.
			const s = await serve();
			try {
				t0 = Date.now();
				const res = await s.call('ro', ['output', flood]);
				assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
				const info = res._meta['toolcell/call'];
				assert.equal(res.isError, true);
				assert.equal(info.truncated, true);
				assert.equal(info.signal, 'KILL');
				assert.equal(info.stdoutBytes, 64 * 1024);
				assert.equal(res.content[0].text, 'x'.repeat(64 * 1024));
				await expectServed(s, 'ro', ['nnp'], 'ok 1');
			} finally {
				await s.close();
			}
		});

		test('fds: open files stop at open_files with EMFILE', () => {
			// stdin, stdout and stderr are three of the open_files.
			expect('ro', ['openfds', '61'], '61 ok');
			expect('ro', ['openfds', '1000'], '61 EMFILE');
			expect('small', ['openfds', '13'], '13 ok');
			expect('small', ['openfds', '1000'], '13 EMFILE');
		});

		test('{tmp}: a tmpfs of tmp_mb fills up with ENOSPC, its metadata is the tool\'s', () => {
			expect('tmp', ['fill', 'big', '1'], '1 ok');
			expect('tmp', ['fill', 'big', '64'], '2 ENOSPC');
			// file_size_mb still bounds one file (4 MiB > tmp_mb here, so
			// the tmpfs is what stops it above).
			expect('rw', ['fill', path.join(ws, 'big'), '64'], '1 EFBIG');
			fs.rmSync(path.join(ws, 'big'), { force: true });
			// chmod of {tmp} itself goes through the supervisor, which
			// finds the tmpfs in the tool's own mount namespace.
			expect('tmp', ['chmod', '.', '700'], 'ok');
			expect('tmp', ['write', '/etc/passwd'], 'EACCES');
		});

		test('names: a granted host name resolves inside the tool from its own /etc/hosts', () => {
			expect('net_name', ['resolve', 'localhost'], 'ok 127.0.0.1');
			expect('net_name', ['read', '/etc/shadow'], 'EACCES');
		});

		test('fail closed: without seccomp user notifications, net and write tools are refused', () => {
			const check = (tool) => spawnSync(BIN, ['check', '--workspace', ws, path.join(mdir, `${tool}.json`)], {
				encoding: 'utf8', env: { PATH: '/usr/bin:/bin', ...mode.env, TOOLCELL_PRETEND_NO_SECCOMP_NOTIFY: '1' },
				...mode.ids,
			});
			for (const tool of ['rw', 'net_ip', 'tmp']) {
				const r = check(tool);
				assert.equal(r.status, 2, `${tool}: ${r.stdout}${r.stderr}`);
				assert.match(r.stderr, new RegExp(`${tool}\\.json:\\d+:\\d+: tool '${tool}' refused: (write grants|grants\\.net): .*seccomp user notifications`));
			}
			const ok = check('ro');
			assert.equal(ok.status, 0, ok.stderr);
			assert.equal(ok.stdout, '1 tool OK\n');
		});

		test('mounts: the host\'s mount table is as it was before the calls', () => {
			assert.equal(fs.readFileSync('/proc/self/mountinfo', 'utf8'), mounts);
		});

		after(() => {
			if (process.env.TOOLCELL_ESCAPE_VERBOSE) console.log(seen.join('\n'));
		});
	});
}
