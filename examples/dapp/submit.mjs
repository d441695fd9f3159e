#!/usr/bin/env node
// A dApp's request for verifiable inference, with Sui's own TypeScript SDK
// and nothing else: it finds the model's hardware class from the package's
// events, submits a Sampling request (the SDK resolves the objects and the
// gas through SimulateTransaction, as it does on any Sui network), waits for
// RequestFinalized, fetches the output from a node that computed it and
// checks it against the digest the chain attests.
//
//   node submit.mjs --info info.json --key suiprivkey1… --model tiny-gpt --prompt "Hello"
//   node submit.mjs --url https://fullnode.testnet.sui.io:443 --package 0x… --network 0x… …
//
// The key may also come from ATOMA_KEY. Prints one JSON object on success.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { bcs } from '@mysten/sui/bcs';
import { SuiGrpcClient } from '@mysten/sui/grpc';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { Transaction } from '@mysten/sui/transactions';
import { blake2b } from '@noble/hashes/blake2.js';

const { values: args } = parseArgs({
	options: {
		info: { type: 'string' },
		url: { type: 'string' },
		package: { type: 'string' },
		network: { type: 'string' },
		key: { type: 'string' },
		model: { type: 'string' },
		prompt: { type: 'string', default: 'Hello' },
		'max-tokens': { type: 'string', default: '8' },
		n: { type: 'string', default: '1' },
		'timeout-ms': { type: 'string', default: '60000' },
		'wait-s': { type: 'string', default: '120' },
	},
});

function fail(message) {
	console.error(`error: ${message}`);
	process.exit(1);
}

const info = args.info ? JSON.parse(readFileSync(args.info, 'utf8')) : {};
const url = args.url ?? info.url;
const pkg = args.package ?? info.package;
const networkId = args.network ?? info.network;
const secret = args.key ?? process.env.ATOMA_KEY;
if (!url || !pkg || !networkId) fail('give --info FILE, or --url, --package and --network');
if (!secret) fail('give --key (a suiprivkey string) or set ATOMA_KEY');
if (!args.model) fail('give --model');

const client = new SuiGrpcClient({ network: 'localnet', baseUrl: url });
const keypair = Ed25519Keypair.fromSecretKey(secret);
const n = BigInt(args.n);
const toHex = (bytes) => Buffer.from(bytes).toString('hex');

// The package's events, decoded with their Move layouts.
const ID = bcs.Address;
const layouts = {
	HardwareClassAdded: bcs.struct('HardwareClassAdded', {
		class_id: bcs.u64(), object_id: ID, name: bcs.string(), profile: bcs.string(),
		min_collateral: bcs.u64(), task_lock: bcs.u64(),
	}),
	ModelAdded: bcs.struct('ModelAdded', { model_id: bcs.string(), weight_digest: bcs.vector(bcs.u8()), class_id: bcs.u64() }),
	NodeRegistered: bcs.struct('NodeRegistered', {
		node_id: ID, owner: bcs.Address, class_id: bcs.u64(), collateral: bcs.u64(),
		endpoint: bcs.string(), public_key: bcs.vector(bcs.u8()),
	}),
	EndpointUpdated: bcs.struct('EndpointUpdated', { node_id: ID, endpoint: bcs.string() }),
	RequestFinalized: bcs.struct('RequestFinalized', {
		request_id: ID, output_digest: bcs.vector(bcs.u8()), nodes: bcs.vector(ID),
		verified: bcs.bool(), reward_per_node: bcs.u64(),
	}),
	RequestFailed: bcs.struct('RequestFailed', {
		request_id: ID,
		reason: bcs.enum('FailReason', { Timeout: null, NoReveals: null, NoDisputeQuorum: null, NoMajority: null, InputUnavailable: null }),
		refund: bcs.u64(),
	}),
};

/** Every event of one type, oldest first. */
async function events(name) {
	const out = [];
	let cursor = null;
	for (;;) {
		const page = await client.listEvents({ filter: { eventType: `${pkg}::events::${name}` }, limit: 1000, cursor });
		out.push(...page.events.map((e) => layouts[name].parse(e.bcs)));
		if (!page.hasNextPage) return out;
		cursor = page.endCursor;
	}
}

// 1. The model's class object (each hardware class is a shared object).
const model = (await events('ModelAdded')).find((m) => m.model_id === args.model);
if (!model) fail(`model ${args.model} is not registered on this network`);
const klass = (await events('HardwareClassAdded')).find((c) => c.class_id === model.class_id);

// 2. The fee: the network's minimum per execution (the first parameter after the Network's id and version).
const { object: network } = await client.getObject({ objectId: networkId, include: { content: true } });
const minFee = bcs.u64().parse(network.content.slice(40, 48));
const fee = BigInt(minFee) * n;

// 3. Submit: the SDK resolves the objects' versions and the gas with SimulateTransaction.
const input = new TextEncoder().encode(JSON.stringify({ prompt: args.prompt, max_tokens: Number(args['max-tokens']) }));
const tx = new Transaction();
const [payment] = tx.splitCoins(tx.gas, [fee]);
tx.moveCall({
	target: `${pkg}::request::submit_sampling`,
	arguments: [
		tx.object(networkId),
		tx.object(klass.object_id),
		tx.pure.string(args.model),
		tx.pure.vector('u8', blake2b(input, { dkLen: 32 })),
		tx.pure.vector('u8', input),
		tx.pure.option('string', null),
		tx.pure.u64(BigInt(args['timeout-ms'])),
		tx.pure.u64(n),
		payment,
		tx.object.random(),
		tx.object.clock(),
	],
});
const started = Date.now();
const result = await client.signAndExecuteTransaction({ transaction: tx, signer: keypair, include: { events: true, effects: true } });
if (result.$kind !== 'Transaction') fail(`the submission failed: ${result.FailedTransaction.status.error?.message}`);
const submitted = result.Transaction.events.find((e) => e.eventType.endsWith('::events::RequestSubmitted'));
const request = ID.parse(submitted.bcs.slice(0, 32));
console.error(`submitted request ${request} in transaction ${result.Transaction.digest} (fee ${fee} MIST)`);

// 4. Finality: RequestFinalized (or RequestFailed) for this request.
const deadline = started + Number(args['wait-s']) * 1000;
let finalized;
while (!finalized) {
	const failed = (await events('RequestFailed')).find((e) => e.request_id === request);
	if (failed) fail(`request ${request} failed: ${failed.reason.$kind}, ${failed.refund} MIST refunded`);
	finalized = (await events('RequestFinalized')).find((e) => e.request_id === request);
	if (!finalized) {
		if (Date.now() > deadline) fail(`request ${request} was not finalized within ${args['wait-s']} s`);
		await new Promise((r) => setTimeout(r, 250));
	}
}
console.error(`finalized by ${finalized.nodes.length} node(s): output digest ${toHex(finalized.output_digest)}`);

// 5. The output, from a node that computed it; the requester signs the ask.
const endpoints = new Map();
for (const r of await events('NodeRegistered')) endpoints.set(r.node_id, r.endpoint);
for (const u of await events('EndpointUpdated')) endpoints.set(u.node_id, u.endpoint);
const node = finalized.nodes[0];
const message = new Uint8Array([...new TextEncoder().encode('atoma/output-request/v1'), ...bcs.Address.serialize(request).toBytes()]);
const { signature } = await keypair.signPersonalMessage(message);
const response = await fetch(`${endpoints.get(node)}/v1/outputs/${request}?wait_ms=10000`, {
	headers: { 'x-atoma-signature': signature },
});
if (!response.ok) fail(`node ${node} answered ${response.status}: ${await response.text()}`);
const output = new Uint8Array(await response.arrayBuffer());
if (toHex(blake2b(output, { dkLen: 32 })) !== toHex(finalized.output_digest)) {
	fail(`node ${node} served an output whose digest differs from the attested one`);
}
const text = new TextDecoder().decode(output);
const textHeader = 'atoma-text/v1\n';
console.log(JSON.stringify({
	request,
	transaction: result.Transaction.digest,
	fee: fee.toString(),
	nodes: finalized.nodes,
	output_digest: toHex(finalized.output_digest),
	verified: finalized.verified,
	output: text.startsWith(textHeader) ? JSON.parse(text.slice(textHeader.length)) : { hex: toHex(output) },
	seconds: (Date.now() - started) / 1000,
}, null, 2));
