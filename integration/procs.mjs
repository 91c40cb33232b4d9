// Processes as /proc shows them, for the integration suites: whether a tool
// process is gone, a gateway's children, and polling until something holds.

import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Whether a process is gone. A zombie counts as gone only when allowed
 *  (orphans are reaped by init, which some containers lack). */
export function processGone(pid, { allowZombie = false } = {}) {
	let stat;
	try {
		stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	} catch {
		return true;
	}
	const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
	return allowZombie && state === 'Z';
}

/** Polls pred (which may be async) until it holds or ms pass. */
export async function waitFor(pred, ms, step = 20) {
	const end = Date.now() + ms;
	for (;;) {
		if (await pred()) return true;
		if (Date.now() > end) return false;
		await sleep(step);
	}
}

/** The children of a process, when the kernel shows them (CONFIG_PROC_CHILDREN). */
export function children(pid) {
	let tasks;
	try {
		tasks = fs.readdirSync(`/proc/${pid}/task`);
	} catch {
		return [];
	}
	const kids = [];
	for (const t of tasks) {
		try {
			const s = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
			if (s) kids.push(...s.split(/\s+/).map(Number));
		} catch { /* the task ended */ }
	}
	return kids;
}

export function comm(pid) {
	try {
		return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
	} catch {
		return null;
	}
}

/** Live children of a gateway that belong to calls: not zombies, and not the
 *  keeper (a helper the gateway forks at start-up). */
export function liveChildren(pid) {
	return children(pid).filter((k) => !processGone(k) && comm(k) !== 'toolcell-keeper');
}

/** Live descendants of a gateway that belong to calls (not the keeper). */
export function toolProcesses(gatewayPid) {
	const out = [];
	const walk = (pid) => {
		for (const k of children(pid)) {
			if (processGone(k, { allowZombie: true }) || comm(k) === 'toolcell-keeper') continue;
			out.push(k);
			walk(k);
		}
	};
	walk(gatewayPid);
	return out;
}
