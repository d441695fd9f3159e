// The page's frame: where the chain is (from the gateway that serves the
// page, or the settings), the ledger read from it, and the pages by hash.

import './style.css';
import { Ledger } from './ledger';
import { Playground } from './playground';
import { network, request, requests } from './views';

interface Config {
	chain_url: string; package: string; network?: string; api_keys?: boolean; faucet_url?: string | null; fromGateway?: boolean;
}

const main = document.querySelector('#main')!;
const field = (id: string) => document.querySelector(`#${id}`) as HTMLInputElement;
const gateway = { apiKey: () => localStorage.getItem('atoma.apiKey') ?? '' };
let ledger: Ledger | null = null;
let playground: Playground | null = null;
let unsubscribe = () => {};
let faucet: string | null = null;

/** What the settings saved, else the network of the gateway serving the page. */
async function config(): Promise<Config | null> {
	const saved = localStorage.getItem('atoma.config');
	if (saved) return JSON.parse(saved);
	const res = await fetch('/atoma/v1/config').catch(() => null);
	return res?.ok ? { ...(await res.json()), fromGateway: true } : null;
}

function connect(c: Config) {
	ledger?.stop();
	faucet = c.faucet_url ?? null;
	ledger = new Ledger(c.chain_url, c.package, c.network || undefined);
	ledger.fromGateway = c.fromGateway ?? false;
	field('chain-url').value = c.chain_url;
	field('package').value = c.package;
	field('network').value = c.network ?? '';
	field('faucet-url').value = c.faucet_url ?? '';
	field('api-key').value = gateway.apiKey();
	ledger.start();
	route();
}

function route() {
	unsubscribe();
	const hash = location.hash.replace(/^#/, '') || '/';
	document.querySelectorAll('nav a').forEach((a) => {
		const here = a.getAttribute('href') === `#${hash}`;
		if (here) a.setAttribute('aria-current', 'page');
		else a.removeAttribute('aria-current');
	});
	if (hash === '/playground') {
		playground ??= new Playground(gateway, () => ledger, () => faucet);
		void playground.show(main);
		return;
	}
	if (!ledger) {
		main.innerHTML = '<p>Give the chain URL and the package in the settings.</p>';
		(document.querySelector('#settings-box') as HTMLDetailsElement).open = true;
		return;
	}
	const l = ledger;
	const id = hash.match(/^\/request\/(0x[0-9a-fA-F]+)$/)?.[1];
	const draw = id ? () => request(main, l, id, gateway) : hash === '/requests' ? () => requests(main, l) : () => network(main, l);
	main.innerHTML = '';
	draw();
	unsubscribe = l.subscribe(draw);
}

document.querySelector('#settings')!.addEventListener('submit', (e) => {
	e.preventDefault();
	const c = {
		chain_url: field('chain-url').value.trim(), package: field('package').value.trim(),
		network: field('network').value.trim(),
		faucet_url: field('faucet-url').value.trim() || null,
	};
	localStorage.setItem('atoma.config', JSON.stringify(c));
	localStorage.setItem('atoma.apiKey', field('api-key').value.trim());
	connect(c);
});
window.addEventListener('hashchange', route);
const c = await config();
if (c) connect(c);
else route();
