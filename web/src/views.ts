// The explorer's pages: the network, the live requests, one request.

import { bars, scatter } from './charts';
import { esc, mist, render, seconds, short } from './format';
import { type Ledger, type RequestInfo, type Step, hex } from './ledger';
import { describeOutput, outputDigest } from './output';

export interface Gateway { apiKey: () => string }

const COLORS: Record<string, string> = { Sampling: '#2563eb', CrossValidation: '#d97706', Sealed: '#7c3aed' };

function table(caption: string, head: string[], rows: string[][]): string {
	if (rows.length === 0) return `<p>No ${esc(caption.toLowerCase())} yet.</p>`;
	return `<table><caption>${esc(caption)}</caption><thead><tr>${head.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead>
		<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

const link = (id: string) => `<a href="#/request/${esc(id)}">${short(id)}</a>`;

/** Seconds from submission to the outcome, of the requests that ended. */
function latencies(l: Ledger) {
	const byMode = new Map<string, [number, number][]>();
	for (const r of l.requests.values()) {
		if (r.outcome === 'open' || r.steps.length < 2) continue;
		const kind = r.mode.split(' ')[0];
		const list = byMode.get(kind) ?? [];
		list.push([r.steps[0].timeMs, (r.steps[r.steps.length - 1].timeMs - r.steps[0].timeMs) / 1000]);
		byMode.set(kind, list);
	}
	return [...byMode].map(([name, points]) => ({ name, color: COLORS[name] ?? '#555', points }));
}

/** Requests and slashes per minute, the last `n` minutes. */
function perMinute(l: Ledger, n = 10) {
	const now = Date.now();
	const minute = (t: number) => Math.floor((now - t) / 60_000);
	const requests = new Array(n).fill(0), slashes = new Array(n).fill(0);
	for (const r of l.requests.values()) {
		for (const s of r.steps) {
			const m = minute(s.timeMs);
			if (m < 0 || m >= n) continue;
			if (s.name === 'RequestSubmitted') requests[m]++;
			if (s.name === 'NodeSlashed') slashes[m]++;
		}
	}
	const label = (i: number) => (i === 0 ? 'this minute' : `${i} min ago`);
	return {
		requests: requests.map((v, i) => ({ label: label(i), value: v })).reverse(),
		slashes: slashes.map((v, i) => ({ label: label(i), value: v, color: '#dc2626' })).reverse(),
	};
}

export function network(el: Element, l: Ledger) {
	const classes = [...l.classes.values()];
	const nodes = [...l.nodes.values()];
	const totalSlashed = nodes.reduce((a, n) => a + n.slashed, 0n);
	const pm = perMinute(l);
	render(el, `<h2>Network</h2>
	${l.error ? `<p role="alert" class="error">${esc(l.error)}</p>` : ''}
	<section aria-label="Totals"><dl class="totals">
		<dt>Transactions read</dt><dd>${l.transactions}</dd>
		<dt>Requests</dt><dd>${l.requests.size}</dd>
		<dt>Fees paid (less refunds)</dt><dd>${mist(l.feesPaid - l.refunded)}</dd>
		<dt>Slashed</dt><dd>${mist(totalSlashed)}</dd>
		<dt>Treasury</dt><dd>${l.treasury === null ? '…' : mist(l.treasury)} (swept in: ${mist(l.revenueSwept)}; withdrawn: ${mist(l.treasuryWithdrawn)})</dd>
	</dl></section>
	<section class="charts" aria-label="Charts">
		${scatter('Latency per mode: submission to outcome', 'seconds', latencies(l))}
		${bars('Requests per minute', pm.requests)}
		${bars('Slashes per minute', pm.slashes)}
	</section>
	${classes.map((c) => `<section aria-label="Class ${esc(c.name)}">
		<h3>Class ${esc(c.name)}</h3>
		<p>Profile <code>${esc(c.profile)}</code>; minimum collateral ${mist(c.minCollateral)}; task lock ${mist(c.taskLock)}; object ${short(c.object)}.
		${c.onChain ? `On chain: <span data-testid="eligible">${c.onChain.active}</span> eligible and ${c.onChain.onCall} on call; revenue not yet swept ${mist(c.onChain.revenue)}.` : ''}</p>
		${table('Models', ['model', 'weights digest (BLAKE2b-256)', 'longest run'],
			[...l.models.values()].filter((m) => m.classId === c.id)
				.map((m) => [esc(m.id), `<code title="${esc(m.digest)}">${esc(m.digest.slice(0, 16))}…</code>`, `${m.maxRunMs} ms`]))}
		${table('Nodes', ['node', 'endpoint', 'collateral', 'locked', 'standing', 'completed', 'slashed'],
			nodes.filter((n) => n.classId === c.id).map((n) => [
				short(n.id), esc(n.endpoint), mist(n.collateral), mist(l.locked(n)), esc(l.standing(n)), String(n.completed),
				n.slashes ? `<strong class="slashed">${n.slashes}× slashed, ${mist(n.slashed)}</strong>` : '0',
			]))}
	</section>`).join('')}`);
}

const OUTCOME: Record<RequestInfo['outcome'], string> = {
	open: 'in progress', verified: 'verified', unverified: 'unverified (fewer than two nodes agreed on it)', failed: 'failed',
};

/** A step in words. */
function describe(s: Step): string {
	const f = s.fields;
	switch (s.name) {
		case 'RequestSubmitted': return `submitted: ${esc(f.model_id)}, fee ${mist(BigInt(f.fee))}`;
		case 'NodesSelected': return `${esc(f.role.$kind)} selected: ${f.nodes.map(short).join(', ')}`;
		case 'Committed': return `${short(f.node_id)} committed`;
		case 'VerificationDrawn': return `verification drawn: ${f.checked ? 'checked' : 'not checked'}`;
		case 'RevealPhaseStarted': return `reveal phase (${esc(f.round.$kind)} round)`;
		case 'Revealed': return `${short(f.node_id)} revealed <code>${esc(hex(f.output_digest).slice(0, 16))}…</code>`;
		case 'SecretRevealed': return `sealed secret revealed: ${f.checked ? `checked by ${f.verifiers.map(short).join(', ')}` : 'not checked'}`;
		case 'DisputeRaised': return `dispute raised: quorum of ${f.quorum_size}`;
		case 'NodeSlashed': return `<strong class="slashed">${short(f.node_id)} slashed ${mist(BigInt(f.amount))} (${esc(f.reason.$kind)})</strong>`;
		case 'RequestFinalized': return `finalized, ${f.verified ? 'verified' : 'unverified'}: ${f.nodes.length} node(s) paid ${mist(BigInt(f.reward_per_node))} each`;
		case 'RequestFailed': return `failed (${esc(f.reason.$kind)}), ${mist(BigInt(f.refund))} refunded`;
		case 'Abstained': return `${short(f.node_id)} abstained (input unavailable)`;
		case 'Declined': return `${short(f.node_id)} declined (cannot run in time)`;
		case 'DeadlineExtended': return 'deadline extended by the grace';
		default: return esc(s.name);
	}
}

export function requests(el: Element, l: Ledger) {
	const rows = l.order.slice(0, 100).map((id) => {
		const r = l.requests.get(id)!;
		const first = r.steps[0]?.timeMs ?? 0, last = r.steps[r.steps.length - 1]?.timeMs ?? 0;
		const phases = [...new Set(r.steps.map((s) => s.name))].join(' → ');
		return [link(id), esc(r.model), esc(r.mode), `<span class="outcome ${r.outcome}">${esc(OUTCOME[r.outcome])}</span>`,
			seconds(last - first), `<small>${esc(phases)}</small>`];
	});
	render(el, `<h2>Live requests</h2>
	${l.error ? `<p role="alert" class="error">${esc(l.error)}</p>` : ''}
	<p>Read from the chain's transactions as they land (the newest first, up to 100).</p>
	${table('Requests', ['request', 'model', 'mode', 'outcome', 'duration', 'phases'], rows)}`);
}

/** One request: its receipt, its timeline, and its output checked in this browser. */
export function request(el: Element, l: Ledger, id: string, gw: Gateway) {
	const r = l.requests.get(id);
	if (!r) {
		render(el, `<h2>Request ${short(id)}</h2><p>Not on chain yet (or not a request of this package).</p>`);
		return;
	}
	const t0 = r.steps[0].timeMs;
	const slashed = r.steps.filter((s) => s.name === 'NodeSlashed');
	const roles = r.steps.filter((s) => s.name === 'NodesSelected')
		.flatMap((s) => s.fields.nodes.map((n: string) => [short(n), esc(s.fields.role.$kind)]));
	render(el, `<h2>Request ${short(id)}</h2>
	<dl class="receipt">
		<dt>Request</dt><dd><code>${esc(id)}</code></dd>
		<dt>Model</dt><dd>${esc(r.model)}</dd><dt>Mode</dt><dd>${esc(r.mode)}</dd>
		<dt>Fee</dt><dd>${mist(r.fee)}</dd><dt>Requester</dt><dd>${short(r.requester)}</dd>
		<dt>Outcome</dt><dd><span class="outcome ${r.outcome}" data-testid="outcome">${esc(OUTCOME[r.outcome])}</span></dd>
		<dt>Output digest</dt><dd><code data-testid="digest">${esc(r.outputDigest ?? '—')}</code></dd>
		<dt>Slashes</dt><dd>${slashed.length ? slashed.map((s) => `${short(s.fields.node_id)}: ${mist(BigInt(s.fields.amount))}`).join('; ') : 'none'}</dd>
	</dl>
	${table('Nodes and their roles', ['node', 'role'], roles)}
	${table('Timeline', ['after', 'event', 'transaction'], r.steps.map((s) => [
		`+${seconds(s.timeMs - t0)}`, describe(s), `<code title="${esc(s.digest)}">${esc(s.digest.slice(0, 10))}…</code>`]))}
	<section aria-label="Output check"><h3>Output</h3><div id="output-check">${r.outputDigest ? '' : '<p>Not final yet.</p>'}</div></section>`);
	if (r.outputDigest) void checkOutput(el.querySelector('#output-check')!, l, r, gw);
}

/** Fetches the output a finalizing node serves (through the gateway, whose
 * key made the request; each finalizing node in turn) and hashes it here,
 * against the digest of the chain this page reads. */
async function checkOutput(box: Element, l: Ledger, r: RequestInfo, gw: Gateway) {
	if ((box as any).__checked === r.outputDigest) return;
	(box as any).__checked = r.outputDigest;
	box.innerHTML = '<p>Fetching the output from a node…</p>';
	const headers: Record<string, string> = gw.apiKey() ? { authorization: `Bearer ${gw.apiKey()}` } : {};
	const failures: string[] = [];
	for (const node of r.nodes!) {
		const res = await fetch(`/atoma/v1/outputs/${r.id}?node=${node}`, { headers }).catch((e) => e as Error);
		if (res instanceof Error || !res.ok) {
			failures.push(`${short(node)}: ${esc(res instanceof Error ? res.message : `${res.status} ${await res.text()}`)}`);
			continue;
		}
		const output = new Uint8Array(await res.arrayBuffer());
		const ok = outputDigest(output) === r.outputDigest;
		const finality = r.outcome === 'verified'
			? 'the digest the chain finalized, verified by the nodes that agreed on it'
			: 'the digest the chain finalized (unverified: no second node checked it)';
		box.innerHTML = `<p data-testid="digest-check" class="${ok ? 'ok' : 'error'}">${ok
			? `✓ The output served by ${short(node)} hashes (BLAKE2b-256, in this browser) to ${finality}.`
			: `✗ The output served by ${short(node)} does not hash to the digest the chain finalized.`}</p>
			<p class="note">The digest was read from the chain at <code>${esc(l.url)}</code> (package <code>${esc(l.pkg.slice(0, 10))}…</code>)${
				l.fromGateway ? ', as the gateway serving this page names it: set your own in the settings to check independently of it' : ''}.</p>
			<pre class="answer">${esc(describeOutput(output))}</pre>`;
		return;
	}
	box.innerHTML = `<p role="alert" class="error">No finalizing node served the output: ${failures.join('; ')}</p>`;
	(box as any).__checked = undefined;
}
