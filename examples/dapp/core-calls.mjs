#!/usr/bin/env node
// The calls a browser dApp makes of a Sui full node, through Sui's own
// TypeScript SDK (its gRPC core client) and nothing else, against any
// network: the current system state and the protocol config, SUI's coin
// metadata, a simulation whose gas payment is left to the node, the
// transaction lists the SDK offers (all, by sender, by Move call, both
// orders, a second page) and the newest event of a type. Prints one JSON
// object of what each returned; exits non-zero at the first call that
// fails or returns nothing usable.
//
//   node core-calls.mjs --url http://127.0.0.1:9000 --package 0x… [--key suiprivkey1…]
//
// The key (or ATOMA_KEY) must hold SUI: it signs nothing, but the simulated
// transfer spends from it.

import { parseArgs } from 'node:util';
import assert from 'node:assert/strict';

import { SuiGrpcClient } from '@mysten/sui/grpc';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { Transaction } from '@mysten/sui/transactions';

const { values: args } = parseArgs({
	options: { url: { type: 'string' }, package: { type: 'string' }, key: { type: 'string' } },
});
const secret = args.key ?? process.env.ATOMA_KEY;
if (!args.url || !args.package || !secret) {
	console.error('error: give --url, --package and --key (or ATOMA_KEY)');
	process.exit(1);
}
const client = new SuiGrpcClient({ network: 'localnet', baseUrl: args.url });
const sender = Ed25519Keypair.fromSecretKey(secret).toSuiAddress();
const seen = {};

const { systemState } = await client.core.getCurrentSystemState();
assert.equal(systemState.epoch, '0');
assert.ok(Number(systemState.referenceGasPrice) > 0 && Number(systemState.epochStartTimestampMs) > 0, systemState);
seen.systemState = systemState;

const { protocolConfig } = await client.core.getProtocolConfig();
assert.ok(protocolConfig.protocolVersion && Number(protocolConfig.attributes.max_tx_gas) > 0, protocolConfig);
seen.protocolConfig = protocolConfig;

const { coinMetadata } = await client.core.getCoinMetadata({ coinType: '0x2::sui::SUI' });
assert.ok(coinMetadata, 'no metadata for SUI');
assert.deepEqual([coinMetadata.symbol, coinMetadata.decimals, coinMetadata.name], ['SUI', 9, 'Sui']);
const unknown = await client.core.getCoinMetadata({ coinType: `${args.package}::nope::NOPE` });
assert.equal(unknown.coinMetadata, null);
seen.coinMetadata = coinMetadata;

// A transfer whose gas payment is left empty: the node chooses the coins.
const { objects: coins } = await client.core.listCoins({ owner: sender });
assert.ok(coins.length > 0, `${sender} holds no SUI`);
const tx = new Transaction();
tx.setSender(sender);
tx.setGasPrice(BigInt(systemState.referenceGasPrice));
tx.setGasBudget(50_000_000n);
tx.setGasPayment([]);
const [part] = tx.splitCoins(tx.object(coins[0].objectId), [1000n]);
tx.transferObjects([part], sender);
const simulated = await client.core.simulateTransaction({ transaction: tx, include: { effects: true } });
assert.equal(simulated.$kind, 'Transaction', JSON.stringify(simulated.FailedTransaction?.status));
assert.ok(simulated.Transaction.effects.status.success, JSON.stringify(simulated.Transaction.effects.status));
// Built as a wallet builds it before signing, and simulated again as bytes.
const bytes = await tx.build({ client });
const again = await client.core.simulateTransaction({ transaction: bytes, include: { effects: true } });
assert.ok(again.Transaction?.effects.status.success, JSON.stringify(again.FailedTransaction?.status));
// Built with nothing set but the sender: the SDK chooses the budget and
// the gas, from a key that holds far less than the largest budget.
const plain = new Transaction();
plain.setSender(sender);
const [bit] = plain.splitCoins(plain.object(coins[0].objectId), [1000n]);
plain.transferObjects([bit], sender);
await plain.build({ client });
seen.simulation = { digest: simulated.Transaction.digest, status: simulated.Transaction.effects.status };

// Transactions, as an explorer lists them.
const all = await client.core.listTransactions({ limit: 3 });
assert.equal(all.transactions.length, 3);
assert.ok(all.hasNextPage && all.endCursor);
const next = await client.core.listTransactions({ limit: 3, after: all.endCursor });
assert.ok(next.transactions.length > 0);
const digests = (page) => page.transactions.map((t) => (t.Transaction ?? t.FailedTransaction).digest);
assert.ok(!digests(all).some((d) => digests(next).includes(d)), 'pages overlap');
const byFunction = await client.core.listTransactions({ filter: { function: `${args.package}::request` }, limit: 50 });
assert.ok(byFunction.transactions.length > 0, 'no call of the request module');
const bySender = await client.core.listTransactions({ filter: { sender }, limit: 50 });
const latest = await client.core.listTransactions({ limit: 2, order: 'descending' });
assert.equal(latest.transactions.length, 2);
// The newest event of a type, as a live feed starts.
const newest = await client.core.listEvents({
	filter: { eventType: `${args.package}::events::RequestFinalized` }, order: 'descending', limit: 1,
});
assert.equal(newest.events.length, 1, 'no RequestFinalized event, newest first');
seen.newestFinalized = newest.events[0].eventType;
seen.transactions = {
	first: digests(all),
	next: digests(next),
	request_module: byFunction.transactions.length,
	by_sender: bySender.transactions.length,
	latest: digests(latest),
};
console.log(JSON.stringify(seen));
