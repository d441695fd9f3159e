#!/usr/bin/env node
// The explorer and playground in a real browser (Debian's Chromium driven
// by playwright-core), against a gateway serving web/dist over a cluster
// with a cheating node; run by tests/tests/web.rs. It opens the network
// page, chats in the playground until an answer streams in and turns
// verified and a cheater has been slashed, opens that answer's request page
// and waits for the browser's own digest check, and finds the slash on the
// network page. Every control must have a name in the accessibility tree.
// Screenshots go to --shots. Prints one JSON object; exits 1 on failure.
//
//   node browser.mjs --url http://127.0.0.1:8080/ --cheater 0x… --shots DIR

import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

const { values: args } = parseArgs({
	options: {
		url: { type: 'string' }, cheater: { type: 'string' }, shots: { type: 'string' },
		chromium: { type: 'string', default: '/usr/bin/chromium' }, prompts: { type: 'string', default: '20' },
	},
});
mkdirSync(args.shots, { recursive: true });
const WAIT = Number(process.env.ATOMA_WEB_WAIT_MS ?? 120_000);
const report = { prompts: 0, answers: [], console_errors: [] };

let page;
const browser = await chromium.launch({ executablePath: args.chromium, args: ['--no-sandbox'] });
try {
	page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
	page.on('console', (m) => m.type() === 'error' && report.console_errors.push(m.text()));
	page.on('pageerror', (e) => report.console_errors.push(String(e)));
	// Every gRPC method the page calls on the chain (for docs/web.md's list).
	const methods = new Set();
	page.on('request', (r) => {
		const path = new URL(r.url()).pathname;
		if (path.startsWith('/sui.rpc.')) methods.add(path.slice(1));
	});
	report.grpc_methods = methods;

	// 1. The network page, read from the chain through gRPC-web.
	await page.goto(args.url);
	report.load_ms = await page.evaluate(() => performance.getEntriesByType('navigation')[0].loadEventEnd);
	await page.getByRole('table', { name: 'Nodes' }).first().waitFor({ timeout: WAIT });
	await page.screenshot({ path: `${args.shots}/network.png`, fullPage: true });
	// The settings' controls too (a closed <details> hides them from the tree).
	await page.getByText('Settings', { exact: true }).click();
	report.unnamed_controls = await unnamedControls(page, 'network page, settings open');
	await page.getByText('Settings', { exact: true }).click();

	// 2. The playground: Sampling with two nodes (a disagreement is settled
	// by a dispute quorum of the five others), so that the cheater is often
	// drawn; after each answer, the network page says whether
	// the cheater has been slashed yet.
	let verified = null;
	let slashed = false;
	for (let i = 0; i < Number(args.prompts) && !(verified && slashed); i++) {
		await page.getByRole('link', { name: 'Playground' }).click();
		await page.getByRole('button', { name: 'New chat' }).click();
		await page.getByLabel('Mode', { exact: true }).selectOption('sampling');
		await page.getByLabel('Nodes that verify (n)', { exact: true }).fill('2');
		await page.getByLabel('Tokens at most', { exact: true }).fill('24');
		await watchFirstText(page);
		await send(page, `Say hello to Sui, number ${i}.`);
		report.prompts++;
		// Streamed: text shows before the final badge.
		const streamedBadge = await (await page.waitForFunction(() => window.firstTextBadge, null, { timeout: WAIT })).jsonValue();
		const answer = await finalAnswer(page);
		report.answers.push({ ...answer, badge_while_streaming: streamedBadge });
		if (answer.final === 'verified' && !verified) {
			verified = answer.request;
			await page.screenshot({ path: `${args.shots}/playground.png`, fullPage: true });
			report.unnamed_controls.push(...await unnamedControls(page, 'playground with an answer'));
		}
		await page.getByRole('link', { name: 'Network' }).click();
		await page.getByRole('table', { name: 'Nodes' }).first().waitFor({ timeout: WAIT });
		await page.waitForTimeout(1500);
		slashed = (await cheaterRow(page).count()) > 0;
	}
	if (!verified) throw new Error(`no answer turned verified in ${report.prompts} prompts`);

	// 3. The verified answer's request page: its output fetched and hashed in the browser.
	await page.goto(`${args.url}#/request/${verified}`);
	const check = page.getByTestId('digest-check');
	await check.waitFor({ timeout: WAIT });
	report.digest_check = await check.textContent();
	report.digest_ok = (await check.getAttribute('class')) === 'ok';
	report.unnamed_controls.push(...await unnamedControls(page, 'request page'));
	await page.screenshot({ path: `${args.shots}/request.png`, fullPage: true });

	// 4. The cheater slashed, on the network page.
	await page.goto(args.url);
	const row = cheaterRow(page);
	await row.waitFor({ timeout: WAIT });
	report.cheater_row = (await row.innerText()).replace(/\s+/g, ' ');
	// The standings the page folds from events agree with the class object's
	// active list, once the requests have settled.
	const standings = async () => {
		const section = page.getByRole('region', { name: /^Class / }).first();
		const folded = await section.getByRole('cell', { name: 'eligible', exact: true }).count();
		const onChain = Number(await section.getByTestId('eligible').textContent());
		return { folded, on_chain: onChain };
	};
	await page.getByTestId('eligible').first().waitFor({ timeout: WAIT });
	for (let i = 0; i < 20 && ((s) => s.folded !== s.on_chain)(report.standings = await standings()); i++) {
		await page.waitForTimeout(500);
	}
	await page.screenshot({ path: `${args.shots}/network-slashed.png`, fullPage: true });

	// 5. Requests signed in the browser, funded from the faucet: by its
	// development key, then by a wallet through Sui's dApp kit (on a local
	// network its burner wallet, connected with the kit's own button). Each
	// is submitted with the TypeScript SDK, its output fetched from a node
	// with the requester's signature and hashed here.
	await page.getByRole('link', { name: 'Playground' }).click();
	const signers = [
		{ requester: 'dev', key: 'direct', address: 'dev_address', connect: false, message: 'Say hello from the browser.' },
		{ requester: 'wallet', key: 'wallet', address: 'wallet_address', connect: true, message: 'Say hello from a wallet.' },
	];
	for (const { requester, key, address, connect, message } of signers) {
		await page.getByRole('button', { name: 'New chat' }).click();
		await page.getByLabel('Requester (who signs and pays)', { exact: true }).selectOption(requester);
		if (connect) {
			await page.getByRole('button', { name: /connect/i }).click();
			await page.getByRole('button', { name: /Unsafe Burner Wallet/ }).click();
		}
		await page.getByRole('button', { name: 'Fund it from the faucet' }).click();
		await page.getByTestId('signer-balance').filter({ hasText: /SUI\)/ }).filter({ hasNotText: /^0 MIST/ }).waitFor({ timeout: WAIT });
		report[address] = await page.getByTestId('signer-address').textContent();
		await page.getByLabel('Nodes that verify (n)', { exact: true }).fill('2');
		await send(page, message);
		report[key] = await finalAnswer(page);
		await page.screenshot({ path: `${args.shots}/playground-${requester}.png`, fullPage: true });
	}
	report.grpc_methods = [...methods].sort();
	console.log(JSON.stringify(report, null, 2));
} catch (e) {
	report.error = String(e.stack ?? e);
	report.grpc_methods = [...(report.grpc_methods ?? [])];
	if (page) {
		report.page_text = await page.locator('body').innerText().catch(() => null);
		await page.screenshot({ path: `${args.shots}/failure.png`, fullPage: true }).catch(() => {});
	}
	console.log(JSON.stringify(report, null, 2));
	process.exitCode = 1;
} finally {
	await browser.close();
}

/** From now on, the badge shown with the first answer text the playground
 * draws (`window.firstTextBadge`). Each draw replaces the conversation's
 * elements, so the added elements of each mutation keep what that draw
 * showed, however fast the next one follows. */
async function watchFirstText(page) {
	await page.evaluate(() => {
		window.firstTextBadge = null;
		const turns = document.querySelector('#turns');
		if (turns.watched) return;
		turns.watched = true;
		new MutationObserver((records) => {
			for (const added of records.flatMap((r) => [...r.addedNodes])) {
				const text = added.classList?.contains('assistant') && added.querySelector('.content')?.textContent;
				if (window.firstTextBadge === null && text && /\S/.test(text)) {
					window.firstTextBadge = added.querySelector('[data-testid=badge]')?.textContent ?? '';
				}
			}
		}).observe(turns, { childList: true });
	});
}

/** Sends `message` from the playground. */
async function send(page, message) {
	await page.getByLabel('Message', { exact: true }).fill(message);
	await page.getByRole('button', { name: 'Send' }).click();
}

/** The playground's answer once its badge is final: the badge (its class
 * and its words), the note under it, the text and the request's id. */
async function finalAnswer(page) {
	const badge = page.locator('.turn.assistant [data-testid=badge]');
	await page.locator('.badge.verified, .badge.unverified, .badge.replaced, .badge.failed').waitFor({ timeout: WAIT });
	const note = page.locator('.turn.assistant .note');
	return {
		final: (await badge.getAttribute('class')).replace('badge', '').trim(),
		badge: await badge.textContent(),
		note: (await note.count()) ? await note.textContent() : null,
		text: await page.getByTestId('assistant-1').textContent(),
		request: (await page.getByTestId('request-link').getAttribute('href')).replace('#/request/', ''),
	};
}

/** The cheater's row in a nodes table, once it shows a slash. */
function cheaterRow(page) {
	return page.getByRole('row').filter({ hasText: args.cheater.slice(0, 8) }).filter({ hasText: 'slashed' });
}

/** Form controls and links whose accessible name is empty, from Chromium's accessibility tree. */
async function unnamedControls(page, where) {
	const cdp = await page.context().newCDPSession(page);
	const { nodes } = await cdp.send('Accessibility.getFullAXTree');
	const roles = new Set(['textbox', 'combobox', 'button', 'spinbutton', 'checkbox', 'link', 'searchbox', 'slider']);
	return nodes
		.filter((n) => !n.ignored && roles.has(n.role?.value) && !(n.name?.value ?? '').trim())
		.map((n) => `${where}: ${n.role.value} without a name`);
}
