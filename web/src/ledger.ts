// The network as the chain tells it: every event of the package, read in
// ledger order through Sui's gRPC-web API (the official SDK), decoded with
// the package's Move layouts and timed by its checkpoint, folded into
// classes, models, nodes and requests. New events are polled for.

import { bcs } from '@mysten/sui/bcs';
import { SuiGrpcClient } from '@mysten/sui/grpc';

const ID = bcs.Address;
const bytes = bcs.vector(bcs.u8());
const unit = (name: string, variants: string[]) =>
	bcs.enum(name, Object.fromEntries(variants.map((v) => [v, null])));

const Mode = bcs.enum('Mode', {
	Sampling: bcs.struct('Sampling', { n: bcs.u64() }),
	CrossValidation: bcs.struct('CrossValidation', { p_bps: bcs.u64(), n: bcs.u64() }),
	Sealed: bcs.struct('Sealed', { p_bps: bcs.u64(), n: bcs.u64() }),
});
const Role = unit('Role', ['Executor', 'Verifier', 'Candidate', 'Disputer']);

const Params = bcs.struct('Params', Object.fromEntries([
	'min_fee_per_execution', 'min_timeout_ms', 'max_timeout_ms', 'reveal_window_ms', 'timeout_slash_bps',
	'protocol_share_bps', 'max_retries', 'unbonding_delay_ms', 'max_n', 'sealed_pool_factor', 'max_inline_input', 'grace_ms',
].map((f) => [f, bcs.u64()])));

/** The network's parameters (move/sources/params.move), in MIST, ms and bps. */
export type NetworkParams = Record<
	'min_fee_per_execution' | 'min_timeout_ms' | 'max_timeout_ms' | 'reveal_window_ms' | 'timeout_slash_bps' |
	'protocol_share_bps' | 'max_retries' | 'unbonding_delay_ms' | 'max_n' | 'sealed_pool_factor' | 'max_inline_input' | 'grace_ms',
	bigint>;

// The shared objects' layouts (move/sources/network.move, hardware.move):
// a Table is its id and size, a TableVec its Table, a Balance its value.
const Table = bcs.struct('Table', { id: ID, size: bcs.u64() });
const NetworkObject = bcs.struct('Network', {
	id: ID, version: bcs.u64(), params: Params, classes: Table, next_class_id: bcs.u64(), models: Table,
	treasury: bcs.u64(),
});
const ClassObject = bcs.struct('HardwareClass', {
	id: ID, version: bcs.u64(), network_id: ID, class_id: bcs.u64(), name: bcs.string(), profile: bcs.string(),
	min_collateral: bcs.u64(), task_lock: bcs.u64(), longest_run_ms: bcs.u64(),
	active: bcs.struct('TableVec', { contents: Table }), index: Table,
	on_call: bcs.struct('TableVec', { contents: Table }), on_call_index: Table, nodes: Table, revenue: bcs.u64(),
});

/** The package's events (move/sources/events.move), by name. */
const layouts = {
	NetworkCreated: bcs.struct('NetworkCreated', { network_id: ID, admin_cap_id: ID, params: Params }),
	ParamsUpdated: bcs.struct('ParamsUpdated', { params: Params }),
	HardwareClassAdded: bcs.struct('HardwareClassAdded', {
		class_id: bcs.u64(), object_id: ID, name: bcs.string(), profile: bcs.string(),
		min_collateral: bcs.u64(), task_lock: bcs.u64(),
	}),
	ModelAdded: bcs.struct('ModelAdded', {
		model_id: bcs.string(), weight_digest: bytes, class_id: bcs.u64(), max_run_ms: bcs.u64(),
	}),
	RevenueSwept: bcs.struct('RevenueSwept', { class_id: bcs.u64(), amount: bcs.u64() }),
	TreasuryWithdrawn: bcs.struct('TreasuryWithdrawn', { amount: bcs.u64(), recipient: bcs.Address }),
	NodeRegistered: bcs.struct('NodeRegistered', {
		node_id: ID, owner: bcs.Address, class_id: bcs.u64(), collateral: bcs.u64(),
		endpoint: bcs.string(), public_key: bytes,
	}),
	CollateralAdded: bcs.struct('CollateralAdded', { node_id: ID, amount: bcs.u64(), collateral: bcs.u64() }),
	EndpointUpdated: bcs.struct('EndpointUpdated', { node_id: ID, endpoint: bcs.string() }),
	NodeLeaving: bcs.struct('NodeLeaving', { node_id: ID, withdraw_after_ms: bcs.u64() }),
	NodeWithdrawn: bcs.struct('NodeWithdrawn', { node_id: ID, amount: bcs.u64() }),
	RequestSubmitted: bcs.struct('RequestSubmitted', {
		request_id: ID, requester: bcs.Address, model_id: bcs.string(), input_digest: bytes,
		input: bcs.enum('Input', { Inline: bytes, Uri: bcs.string() }),
		mode: Mode, fee: bcs.u64(), seed: bytes, timeout_ms: bcs.u64(),
	}),
	NodesSelected: bcs.struct('NodesSelected', { request_id: ID, role: Role, nodes: bcs.vector(ID), deadline_ms: bcs.u64() }),
	Committed: bcs.struct('Committed', { request_id: ID, node_id: ID, commitment: bytes }),
	VerificationDrawn: bcs.struct('VerificationDrawn', { request_id: ID, checked: bcs.bool() }),
	RevealPhaseStarted: bcs.struct('RevealPhaseStarted', {
		request_id: ID, round: unit('Round', ['Main', 'Dispute']), deadline_ms: bcs.u64(),
	}),
	Revealed: bcs.struct('Revealed', { request_id: ID, node_id: ID, output_digest: bytes }),
	SecretRevealed: bcs.struct('SecretRevealed', { request_id: ID, checked: bcs.bool(), verifiers: bcs.vector(ID) }),
	DisputeRaised: bcs.struct('DisputeRaised', { request_id: ID, quorum_size: bcs.u64() }),
	NodeSlashed: bcs.struct('NodeSlashed', {
		request_id: ID, node_id: ID, reason: unit('SlashReason', ['Timeout', 'Withheld', 'WrongOutput']), amount: bcs.u64(),
	}),
	RequestFinalized: bcs.struct('RequestFinalized', {
		request_id: ID, output_digest: bytes, nodes: bcs.vector(ID), verified: bcs.bool(), reward_per_node: bcs.u64(),
	}),
	RequestFailed: bcs.struct('RequestFailed', {
		request_id: ID,
		reason: unit('FailReason', ['Timeout', 'NoReveals', 'NoDisputeQuorum', 'NoMajority', 'InputUnavailable']),
		refund: bcs.u64(),
	}),
	Abstained: bcs.struct('Abstained', { request_id: ID, node_id: ID }),
	Declined: bcs.struct('Declined', { request_id: ID, node_id: ID }),
	DeadlineExtended: bcs.struct('DeadlineExtended', { request_id: ID, deadline_ms: bcs.u64() }),
};
type Layouts = typeof layouts;
export type EventName = keyof Layouts;
export type Fields<N extends EventName> = ReturnType<Layouts[N]['parse']>;

export const hex = (b: Iterable<number>) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** One step of a request's life as the chain records it. */
export interface Step {
	name: EventName;
	fields: Record<string, any>;
	digest: string;
	timeMs: number;
}

export interface ClassInfo {
	id: string; object: string; name: string; profile: string; minCollateral: bigint; taskLock: bigint;
	/** From the class object, once read: its eligible and on-call nodes, its longest run, its revenue not yet swept. */
	onChain?: { active: bigint; onCall: bigint; longestRunMs: bigint; revenue: bigint };
}
export interface ModelInfo { id: string; classId: string; digest: string; maxRunMs: bigint }
export interface NodeInfo {
	id: string; owner: string; classId: string; endpoint: string;
	collateral: bigint; leaving: boolean; withdrawn: boolean;
	completed: number; slashes: number; slashed: bigint;
}
export interface RequestInfo {
	id: string; model: string; mode: string; fee: bigint; requester: string;
	steps: Step[];
	/** Nodes holding a seat now (selected, not yet abstained, declined or done). */
	seats: Set<string>;
	outcome: 'open' | 'verified' | 'unverified' | 'failed';
	outputDigest?: string; nodes?: string[];
}

/** A mode in words, e.g. `Sampling n=2`, `CrossValidation p=10% n=1`. */
export function modeName(m: any): string {
	const v = m[m.$kind];
	return v.p_bps === undefined ? `${m.$kind} n=${v.n}` : `${m.$kind} p=${Number(v.p_bps) / 100}% n=${v.n}`;
}

export class Ledger {
	readonly client: SuiGrpcClient;
	classes = new Map<string, ClassInfo>();
	models = new Map<string, ModelInfo>();
	nodes = new Map<string, NodeInfo>();
	requests = new Map<string, RequestInfo>();
	/** Requests newest first (by submission). */
	order: string[] = [];
	revenueSwept = 0n;
	treasuryWithdrawn = 0n;
	feesPaid = 0n;
	/** Refunded to requesters of failed requests. */
	refunded = 0n;
	transactions = 0;
	/** The shared Network object and its parameters, once read. */
	network: string | null = null;
	/** The treasury's balance, from the Network object. */
	treasury: bigint | null = null;
	params: NetworkParams | null = null;
	error: string | null = null;
	/** Whether the gateway serving the page named this chain (not the settings). */
	fromGateway = false;
	private cursor: string | null = null;
	private origin: string | null = null;
	private stopped = false;
	private lastDigest = '';
	private checkpointTimes = new Map<string | null, number>();
	private listeners = new Set<() => void>();
	private timer: ReturnType<typeof setTimeout> | undefined;

	/** `pkg`: the package to call (its latest version); `networkId`: its
	 * Network object, whose type names the package's first version. */
	constructor(readonly url: string, readonly pkg: string, readonly networkId?: string) {
		this.client = new SuiGrpcClient({ network: 'localnet', baseUrl: url });
	}

	/** Calls `f` after every change; returns the unsubscription. */
	subscribe(f: () => void): () => void {
		this.listeners.add(f);
		return () => this.listeners.delete(f);
	}

	/** Reads every event so far, then polls for new ones every `everyMs`. */
	start(everyMs = 1000) {
		const tick = async () => {
			try {
				await this.poll();
				if (this.error) {
					this.error = null;
					this.notify();
				}
			} catch (e) {
				const message = `cannot read the chain at ${this.url}: ${(e as Error).message}`;
				if (message !== this.error) {
					this.error = message;
					this.notify();
				}
			}
			if (!this.stopped) this.timer = setTimeout(tick, everyMs);
		};
		void tick();
	}

	/** Stops polling, also after a read in flight. */
	stop() {
		this.stopped = true;
		clearTimeout(this.timer);
	}

	private notify() {
		if (!this.stopped) this.listeners.forEach((f) => f());
	}

	/** Reads the package's events after the cursor, telling the listeners
	 * after each page, then the shared objects if events came (every call
	 * that changes them emits one). Events have the type of the package's
	 * first version, whatever version emitted them. */
	async poll() {
		this.origin ??= await this.originalPackage();
		let events = false;
		for (;;) {
			const page = await this.client.core.listEvents({
				filter: { eventType: `${this.origin}::events` }, after: this.cursor, limit: 50,
			});
			if (this.stopped) return;
			const times = await this.times(page.events.map((e) => e.checkpoint));
			for (const e of page.events) {
				const name = e.eventType.split('::')[2] as EventName;
				if (!(name in layouts)) continue;
				const fields = layouts[name].parse(e.bcs) as Record<string, any>;
				if (e.transactionDigest !== this.lastDigest) {
					this.lastDigest = e.transactionDigest;
					this.transactions++;
				}
				this.apply({ name, fields, digest: e.transactionDigest, timeMs: times.get(e.checkpoint) ?? Date.now() });
			}
			if (page.endCursor) this.cursor = page.endCursor;
			if (page.events.length) {
				events = true;
				this.notify();
			}
			if (!page.hasNextPage) break;
		}
		if (events && await this.readObjects()) this.notify();
	}

	/** The shared objects' balances and counts the events do not carry:
	 * the treasury, and each class's revenue, eligible and on-call nodes.
	 * Whether any changed. */
	private async readObjects(): Promise<boolean> {
		const ids = [this.network, ...[...this.classes.values()].map((c) => c.object)].filter((x): x is string => !!x);
		if (ids.length === 0) return false;
		const { objects } = await this.client.core.getObjects({ objectIds: ids, include: { content: true } });
		const read = () => JSON.stringify(
			[this.treasury, [...this.classes.values()].map((c) => c.onChain)],
			(_, v) => (typeof v === 'bigint' ? String(v) : v),
		);
		const before = read();
		for (const o of objects) {
			if (o instanceof Error || !o.content) continue;
			if (o.objectId === this.network) {
				this.treasury = BigInt(NetworkObject.parse(o.content).treasury);
				continue;
			}
			const c = ClassObject.parse(o.content);
			const info = this.classes.get(String(c.class_id));
			if (info) {
				info.onChain = {
					active: BigInt(c.active.contents.size), onCall: BigInt(c.on_call.contents.size),
					longestRunMs: BigInt(c.longest_run_ms), revenue: BigInt(c.revenue),
				};
			}
		}
		return read() !== before;
	}

	/** The package's first version (the type origin of its events): the
	 * package of the Network object's type, else the package given. */
	private async originalPackage(): Promise<string> {
		if (!this.networkId) return this.pkg;
		this.network = this.networkId;
		const { object } = await this.client.core.getObject({ objectId: this.networkId });
		return object.type.split('::')[0];
	}

	/** The timestamps of these checkpoints (an event's time is its checkpoint's). */
	private async times(checkpoints: (string | null)[]): Promise<Map<string | null, number>> {
		const missing = [...new Set(checkpoints)].filter((c): c is string => c !== null && !this.checkpointTimes.has(c));
		await Promise.all(missing.map(async (c) => {
			const { response } = await this.client.ledgerService.getCheckpoint({
				checkpointId: { oneofKind: 'sequenceNumber', sequenceNumber: BigInt(c) },
				readMask: { paths: ['summary.timestamp'] },
			});
			const t = response.checkpoint?.summary?.timestamp;
			this.checkpointTimes.set(c, t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : Date.now());
		}));
		return this.checkpointTimes;
	}

	private apply(s: Step) {
		const f = s.fields;
		const node = (id: string) => this.nodes.get(id);
		const params = (p: Record<string, string>) =>
			Object.fromEntries(Object.entries(p).map(([k, v]) => [k, BigInt(v)])) as NetworkParams;
		switch (s.name) {
			case 'NetworkCreated': this.network = f.network_id; this.params = params(f.params); return;
			case 'ParamsUpdated': this.params = params(f.params); return;
			case 'HardwareClassAdded':
				this.classes.set(String(f.class_id), {
					id: String(f.class_id), object: f.object_id, name: f.name, profile: f.profile,
					minCollateral: BigInt(f.min_collateral), taskLock: BigInt(f.task_lock),
				});
				return;
			case 'ModelAdded':
				this.models.set(f.model_id, {
					id: f.model_id, classId: String(f.class_id), digest: hex(f.weight_digest), maxRunMs: BigInt(f.max_run_ms),
				});
				return;
			case 'RevenueSwept': this.revenueSwept += BigInt(f.amount); return;
			case 'TreasuryWithdrawn': this.treasuryWithdrawn += BigInt(f.amount); return;
			case 'NodeRegistered':
				this.nodes.set(f.node_id, {
					id: f.node_id, owner: f.owner, classId: String(f.class_id), endpoint: f.endpoint,
					collateral: BigInt(f.collateral), leaving: false, withdrawn: false, completed: 0, slashes: 0, slashed: 0n,
				});
				return;
			case 'CollateralAdded': { const n = node(f.node_id); if (n) n.collateral = BigInt(f.collateral); return; }
			case 'EndpointUpdated': { const n = node(f.node_id); if (n) n.endpoint = f.endpoint; return; }
			case 'NodeLeaving': { const n = node(f.node_id); if (n) n.leaving = true; return; }
			case 'NodeWithdrawn': { const n = node(f.node_id); if (n) { n.withdrawn = true; n.collateral = 0n; } return; }
			case 'RequestSubmitted':
				this.requests.set(f.request_id, {
					id: f.request_id, model: f.model_id, mode: modeName(f.mode), fee: BigInt(f.fee), requester: f.requester,
					steps: [], seats: new Set(), outcome: 'open',
				});
				this.order.unshift(f.request_id);
				this.feesPaid += BigInt(f.fee);
				break;
			case 'NodeSlashed': {
				const n = node(f.node_id);
				if (n) { n.slashes++; n.slashed += BigInt(f.amount); n.collateral -= BigInt(f.amount); }
				break;
			}
		}
		const r = this.requests.get(f.request_id);
		if (!r) return;
		// Not kept: the input's bytes and the seed (shown nowhere, and unbounded).
		if (s.name === 'RequestSubmitted') s.fields = { ...f, input: { $kind: f.input.$kind }, seed: null };
		r.steps.push(s);
		switch (s.name) {
			// Sealed candidates hold no stake until the secret names the verifiers among them.
			case 'NodesSelected': if (f.role.$kind !== 'Candidate') for (const n of f.nodes) r.seats.add(n); break;
			case 'SecretRevealed': for (const n of f.verifiers) r.seats.add(n); break;
			case 'Abstained': case 'Declined': case 'NodeSlashed': r.seats.delete(f.node_id); break;
			case 'RequestFinalized':
				r.outcome = f.verified ? 'verified' : 'unverified';
				r.outputDigest = hex(f.output_digest);
				r.nodes = f.nodes;
				for (const id of f.nodes) { const n = node(id); if (n) n.completed++; }
				r.seats.clear();
				break;
			case 'RequestFailed': r.outcome = 'failed'; r.seats.clear(); this.refunded += BigInt(f.refund); break;
		}
	}

	/** Collateral locked by a node's open seats (one task lock each). */
	locked(n: NodeInfo): bigint {
		const lock = this.classes.get(n.classId)?.taskLock ?? 0n;
		let open = 0n;
		for (const r of this.requests.values()) if (r.seats.has(n.id)) open++;
		return open * lock;
	}

	/** The node's standing, by the rule of protocol/src/state/mod.rs (`Standing::of`). */
	standing(n: NodeInfo): string {
		const c = this.classes.get(n.classId);
		if (n.withdrawn) return 'withdrawn';
		if (n.leaving) return 'leaving';
		if (c && n.collateral < c.minCollateral) return 'below minimum';
		if (c && n.collateral - this.locked(n) < c.taskLock) return 'fully locked';
		return 'eligible';
	}
}
