// Requests made from this browser with a key of its own, as any dApp makes
// them: the entry call built with Sui's TypeScript SDK and signed here (a
// development key kept in this browser, funded from a local network's
// faucet, or a wallet), finality read from the chain, and the output asked
// of a node that finalized it, signed by the requester, and hashed here.

import { createDAppKit } from '@mysten/dapp-kit-core';
import { bcs } from '@mysten/sui/bcs';
import { requestSuiFromFaucetV2 } from '@mysten/sui/faucet';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { Transaction } from '@mysten/sui/transactions';
import { blake2b } from '@noble/hashes/blake2.js';

import { type Ledger } from './ledger';
import { outputDigest } from './output';

/** Whoever signs this browser's requests. */
export interface Signer {
	/** Where the key lives, in words. */
	kind: string;
	address: string;
	/** Executes `tx`; its digest and events. */
	execute(tx: Transaction): Promise<{ digest: string; events: { eventType: string; bcs: Uint8Array }[] }>;
	/** A personal-message signature, serialized as Sui's `UserSignature`. */
	signPersonalMessage(message: Uint8Array): Promise<string>;
}

const DEV_KEY = 'atoma.devKey';

/** The development key kept in this browser (made on first use). For a
 * local network: anyone who can read this browser's storage holds it. */
export function devKey(ledger: Ledger): Signer {
	let secret = localStorage.getItem(DEV_KEY);
	if (!secret) {
		secret = Ed25519Keypair.generate().getSecretKey();
		localStorage.setItem(DEV_KEY, secret);
	}
	const keypair = Ed25519Keypair.fromSecretKey(secret);
	return {
		kind: 'development key (this browser)',
		address: keypair.toSuiAddress(),
		async execute(transaction) {
			const r = await ledger.client.signAndExecuteTransaction({ transaction, signer: keypair, include: { events: true } });
			if (r.$kind !== 'Transaction') throw new Error(`the transaction failed: ${r.FailedTransaction.status.error?.message}`);
			return { digest: r.Transaction.digest, events: r.Transaction.events ?? [] };
		},
		async signPersonalMessage(message) {
			return (await keypair.signPersonalMessage(message)).signature;
		},
	};
}

/** SUI of `address`, in MIST. */
export async function balance(ledger: Ledger, address: string): Promise<bigint> {
	const { balance } = await ledger.client.core.getBalance({ owner: address });
	return BigInt(balance.balance);
}

/** Funds `address` from the local network's faucet. */
export async function fund(faucet: string, address: string) {
	await requestSuiFromFaucetV2({ host: faucet, recipient: address });
}

export interface Ask { model: string; input: object; mode: 'sampling' | 'cross-validation'; n: number; p: number }

/** Submits `ask` signed by `signer`: the request's id and its transaction. */
export async function submit(ledger: Ledger, signer: Signer, ask: Ask): Promise<{ request: string; digest: string }> {
	const model = ledger.models.get(ask.model);
	if (!model) throw new Error(`model ${ask.model} is not registered on this network`);
	const klass = ledger.classes.get(model.classId)!;
	const params = ledger.params;
	if (!params) throw new Error('the network\'s parameters are not read yet');
	const n = BigInt(ask.n);
	const pBps = BigInt(Math.round(ask.p * 10_000));
	// The fee and the shortest timeout, by the chain's rules (docs/protocol.md, "Fees" and "Time").
	const units = ask.mode === 'sampling' ? 10_000n * n : 10_000n + pBps * n;
	const fee = (params.min_fee_per_execution * units + 9_999n) / 10_000n;
	// The class's longest run as its object says (else the longest of its models' bounds).
	const longest = klass.onChain?.longestRunMs ?? [...ledger.models.values()].filter((m) => m.classId === model.classId)
		.reduce((a, m) => (m.maxRunMs > a ? m.maxRunMs : a), 0n);
	let timeout = params.min_timeout_ms + model.maxRunMs + longest;
	if (timeout < 60_000n) timeout = 60_000n;
	if (timeout > params.max_timeout_ms) timeout = params.max_timeout_ms;
	const input = new TextEncoder().encode(JSON.stringify(ask.input));
	const tx = new Transaction();
	const [payment] = tx.splitCoins(tx.gas, [fee]);
	const common = [
		tx.object(ledger.network!), tx.object(klass.object), tx.pure.string(ask.model),
		tx.pure.vector('u8', blake2b(input, { dkLen: 32 })), tx.pure.vector('u8', input),
		tx.pure.option('string', null), tx.pure.u64(timeout),
	];
	const mode = ask.mode === 'sampling' ? [tx.pure.u64(n)] : [tx.pure.u64(pBps), tx.pure.u64(n)];
	const fn = ask.mode === 'sampling' ? 'submit_sampling' : 'submit_cross_validation';
	tx.moveCall({
		target: `${ledger.pkg}::request::${fn}`,
		arguments: [...common, ...mode, payment, tx.object.random(), tx.object.clock()],
	});
	const { digest, events } = await signer.execute(tx);
	const submitted = events.find((e) => e.eventType.endsWith('::events::RequestSubmitted'));
	if (!submitted) throw new Error(`transaction ${digest} submitted no request`);
	return { request: bcs.Address.parse(submitted.bcs.slice(0, 32)), digest };
}

/** The request's output, asked of each node that finalized it in turn with
 * the requester's signature, and whether it hashes to the finalized digest. */
export async function output(ledger: Ledger, signer: Signer, request: string) {
	const r = ledger.requests.get(request);
	if (!r?.outputDigest || !r.nodes) throw new Error(`request ${request} is not final`);
	const message = new Uint8Array([
		...new TextEncoder().encode('atoma/output-request/v1'), ...bcs.Address.serialize(request).toBytes(),
	]);
	const signature = await signer.signPersonalMessage(message);
	const failures: string[] = [];
	for (const node of r.nodes) {
		const endpoint = ledger.nodes.get(node)?.endpoint;
		const res = endpoint
			? await fetch(`${endpoint.replace(/\/$/, '')}/v1/outputs/${request}?wait_ms=10000`, {
				headers: { 'x-atoma-signature': signature },
			}).catch((e) => e as Error)
			: new Error('no endpoint');
		if (res instanceof Error || !res.ok) {
			failures.push(`${node}: ${res instanceof Error ? res.message : res.status}`);
			continue;
		}
		const bytes = new Uint8Array(await res.arrayBuffer());
		return { bytes, ok: outputDigest(bytes) === r.outputDigest };
	}
	throw new Error(`no finalizing node served the output: ${failures.join('; ')}`);
}

/** The dApp kit of Sui's wallets (wallet-standard), made once per chain URL. */
let kit: { url: string; kit: ReturnType<typeof createDAppKit> } | null = null;

/** Sui's network name for a chain URL, as wallets know networks. */
function networkName(url: string): string {
	return ['mainnet', 'testnet', 'devnet'].find((n) => url.includes(n)) ?? 'localnet';
}

/** The wallets' kit for the ledger's chain. */
export function wallets(ledger: Ledger) {
	if (kit?.url !== ledger.url) {
		const network = networkName(ledger.url);
		kit = {
			url: ledger.url,
			kit: createDAppKit({
				networks: [network], defaultNetwork: network, autoConnect: true,
				createClient: () => ledger.client,
				// On a local network: the kit's burner wallet (a key in memory,
				// gone with the page), and no call to Slush's web wallet.
				enableBurnerWallet: network === 'localnet',
				...(network === 'localnet' ? { slushWalletConfig: null } : {}),
			}),
		};
	}
	return kit.kit;
}

/** The connected wallet's account as a signer, or null when none is connected. */
export function walletSigner(ledger: Ledger): Signer | null {
	const k = wallets(ledger);
	const c = k.stores.$connection.get();
	if (!c.isConnected) return null;
	return {
		kind: `wallet ${c.wallet.name}`,
		address: c.account.address,
		async execute(transaction) {
			const r = await k.signAndExecuteTransaction({ transaction });
			if (r.$kind !== 'Transaction') throw new Error(`the transaction failed: ${r.FailedTransaction.status.error?.message}`);
			// The wallet's answer has no events: the chain's record of the transaction does.
			for (let i = 0; ; i++) {
				try {
					const t = await ledger.client.core.getTransaction({ digest: r.Transaction.digest, include: { events: true } });
					if (t.$kind === 'Transaction') return { digest: t.Transaction.digest, events: t.Transaction.events ?? [] };
				} catch (e) {
					if (i >= 20) throw e;
				}
				await new Promise((done) => setTimeout(done, 250));
			}
		},
		async signPersonalMessage(message) {
			return (await k.signPersonalMessage({ message })).signature;
		},
	};
}
