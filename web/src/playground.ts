// The playground: a chat (tokens streamed through the gateway's OpenAI
// routes) or embeddings, each answer with a badge that says what the chain
// says of it: first output, then verified, unverified, or replaced by the
// verified output when its node was caught.

import '@mysten/dapp-kit-core/web';

import { type Signer, balance, devKey, fund, output, submit, wallets, walletSigner } from './direct';
import { esc, mist, short } from './format';
import { describeOutput } from './output';
import type { Ledger, RequestInfo } from './ledger';
import type { Gateway } from './views';

interface Model { id: string; atoma?: { class?: string } }
interface Turn { role: 'user' | 'assistant'; content: string; badge?: string; request?: string; note?: string }

const BADGES: Record<string, string> = {
	submitted: 'submitted', first_output: 'first output', verified: 'verified', unverified: 'unverified',
	replaced: 'replaced: the cheater’s output', failed: 'failed',
};

export class Playground {
	private turns: Turn[] = [];
	private models: Model[] = [];
	private busy = false;

	/** The playground's own element: it lives on while other pages show, so
	 * that an answer still streaming lands where it belongs. */
	private el = document.createElement('section');
	private loaded = false;
	/** The wallets' kit whose connection the key panel follows, and its connect button. */
	private watched: unknown = null;
	private connect: HTMLElement | null = null;

	constructor(
		private gw: Gateway,
		private ledger: () => Ledger | null,
		private faucet: () => string | null,
	) {
		this.build();
	}

	/** Shows the playground in `main`; the models are read the first time. */
	async show(main: Element) {
		main.replaceChildren(this.el);
		if (!this.loaded) await this.loadModels();
		void this.keyPanel();
	}

	private build() {
		this.el.innerHTML = `<h2>Playground</h2>
		<form id="ask" aria-label="Ask a model">
			<div class="row">
				<div class="field"><label for="requester">Requester (who signs and pays)</label><select id="requester" name="requester">
					<option value="gateway">the gateway (OpenAI API, streamed)</option>
					<option value="dev">this browser's development key</option>
					<option value="wallet">a wallet</option>
				</select></div>
				<div class="field"><label for="model">Model</label><select id="model" name="model"></select></div>
				<div class="field"><label for="task">Task</label><select id="task" name="task"><option value="chat">chat</option><option value="embeddings">embeddings</option></select></div>
				<div class="field"><label for="mode">Mode</label><select id="mode" name="mode">
					<option value="sampling">Sampling</option><option value="cross-validation">CrossValidation</option><option value="sealed">Sealed</option>
				</select></div>
				<div class="field"><label for="n">Nodes that verify (n)</label><input id="n" name="n" type="number" min="1" value="2"></div>
				<div class="field"><label for="p">Check probability (p)</label><input id="p" name="p" type="number" min="0" max="1" step="0.05" value="1"></div>
				<div class="field"><label for="max-tokens">Tokens at most</label><input id="max-tokens" name="max_tokens" type="number" min="1" max="256" value="48"></div>
			</div>
			<div id="key-panel" class="key-panel" aria-live="polite"></div>
			<div class="field prompt"><label for="prompt">Message</label><textarea id="prompt" name="prompt" rows="3" required>What is the capital of France? Answer in one sentence.</textarea></div>
			<div class="row"><button id="send" type="submit">Send</button><button id="clear" type="button">New chat</button></div>
		</form>
		<ol id="turns" class="turns" aria-label="Conversation"></ol>
		<p id="announce" class="visually-hidden" aria-live="polite"></p>`;
		this.el.querySelector('#ask')!.addEventListener('submit', (e) => { e.preventDefault(); void this.send(); });
		this.el.querySelector('#clear')!.addEventListener('click', () => { this.turns = []; this.draw(); });
		this.el.querySelector('#requester')!.addEventListener('change', () => void this.keyPanel());
	}

	private async loadModels() {
		const res = await fetch('/v1/models', { headers: this.headers() }).catch(() => null);
		const select = this.el.querySelector('#model') as HTMLSelectElement;
		if (!res?.ok) {
			select.innerHTML = '<option value="">no gateway answered /v1/models</option>';
			return;
		}
		this.models = (await res.json()).data as Model[];
		this.loaded = true;
		select.innerHTML = this.models.map((m) => `<option value="${esc(m.id)}">${esc(m.id)} (${esc(m.atoma?.class ?? '?')})</option>`).join('');
		const chat = this.models.find((m) => /chat|instruct|llama|smol/i.test(m.id));
		if (chat) select.value = chat.id;
		this.draw();
	}

	private headers(): Record<string, string> {
		const key = this.gw.apiKey();
		return { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) };
	}

	private value(id: string) {
		return (this.el.querySelector(`#${id}`) as HTMLInputElement).value;
	}

	private options() {
		const mode = this.value('mode');
		const atoma: Record<string, unknown> = { mode, n: Number(this.value('n')) };
		if (mode !== 'sampling') atoma.p = Number(this.value('p'));
		return atoma;
	}

	private draw() {
		const list = this.el.querySelector('#turns')!;
		list.innerHTML = this.turns.map((t, i) => `<li class="turn ${t.role}">
			<span class="who">${t.role === 'user' ? 'You' : 'Model'}</span>
			<div class="content" data-testid="${t.role}-${i}">${esc(t.content)}</div>
			${t.badge ? `<span class="badge ${esc(t.badge)}" data-testid="badge">${esc(BADGES[t.badge] ?? t.badge)}</span>` : ''}
			${t.request ? `<a href="#/request/${esc(t.request)}" data-testid="request-link">request ${short(t.request)}</a>` : ''}
			${t.note ? `<p class="note">${esc(t.note)}</p>` : ''}
		</li>`).join('');
		(this.el.querySelector('#send') as HTMLButtonElement).disabled = this.busy;
		// Screen readers hear each answer's badge as it changes, not every token.
		const last = this.turns[this.turns.length - 1];
		const said = last?.badge ? `Answer ${BADGES[last.badge] ?? last.badge}` : '';
		const announce = this.el.querySelector('#announce')!;
		if (announce.textContent !== said) announce.textContent = said;
	}

	private async send() {
		if (this.busy) return;
		const prompt = this.value('prompt').trim();
		if (!prompt) return;
		this.busy = true;
		const task = this.value('task');
		this.turns.push({ role: 'user', content: prompt });
		const answer: Turn = { role: 'assistant', content: '', badge: 'submitted' };
		this.turns.push(answer);
		this.draw();
		try {
			const requester = this.value('requester');
			if (requester !== 'gateway') await this.direct(requester, task, prompt, answer);
			else if (task === 'embeddings') await this.embed(prompt, answer);
			else await this.chat(answer);
		} catch (e) {
			answer.badge = 'failed';
			answer.note = (e as Error).message;
		}
		this.busy = false;
		this.draw();
	}

	/** This browser's signer for `requester` (`dev` or `wallet`), or why there is none. */
	private signer(requester: string): Signer {
		const l = this.ledger();
		if (!l) throw new Error('no chain: give its URL in the settings');
		if (requester === 'dev') return devKey(l);
		const w = walletSigner(l);
		if (!w) throw new Error('connect a wallet first');
		return w;
	}

	/** The key panel: whose key signs, its balance, and how to fund or connect it. */
	private async keyPanel() {
		const panel = this.el.querySelector('#key-panel')!;
		const requester = this.value('requester');
		const l = this.ledger();
		if (requester === 'gateway' || !l) {
			panel.replaceChildren();
			return;
		}
		let key: Signer | null = devKey(l);
		if (requester === 'wallet') {
			const kit = wallets(l);
			if (this.watched !== kit) {
				this.watched = kit;
				kit.stores.$connection.listen(() => void this.keyPanel());
			}
			key = walletSigner(l);
		}
		const faucet = this.faucet();
		const funds = key ? await balance(l, key.address).catch(() => null) : null;
		const about = document.createElement('p');
		about.innerHTML = key
			? `Signed by ${esc(key.kind)} <code data-testid="signer-address">${esc(key.address)}</code>:
				<span data-testid="signer-balance">${funds === null ? 'balance unknown' : mist(funds)}</span>
				${faucet ? '<button type="button" id="fund">Fund it from the faucet</button>' : '(no faucet known: send it SUI)'}`
			: 'Connect a wallet of this browser (the wallet standard):';
		about.querySelector('#fund')?.addEventListener('click', async () => {
			await fund(faucet!, key!.address).catch((e) => alert(`the faucet refused: ${(e as Error).message}`));
			await this.keyPanel();
		});
		const parts: Node[] = [about];
		if (requester === 'wallet') {
			this.connect ??= Object.assign(document.createElement('mysten-dapp-kit-connect-button'), { instance: wallets(l) });
			parts.push(this.connect);
		}
		panel.replaceChildren(...parts);
	}

	/** A request signed in this browser: submitted, followed on chain to its
	 * outcome, its output asked of a finalizing node and hashed here. */
	private async direct(requester: string, task: string, prompt: string, answer: Turn) {
		const l = this.ledger()!;
		const signer = this.signer(requester);
		const max = Number(this.value('max-tokens'));
		const input = task === 'embeddings'
			? { input: [prompt] }
			: { messages: this.turns.slice(0, -1).map((t) => ({ role: t.role, content: t.content })), max_tokens: max };
		const mode = this.value('mode');
		if (mode === 'sealed') throw new Error('a Sealed request needs its requester to reveal a secret later: use the gateway');
		const { request } = await submit(l, signer, {
			model: this.value('model'), input, mode: mode as 'sampling' | 'cross-validation',
			n: Number(this.value('n')), p: Number(this.value('p')),
		});
		answer.request = request;
		answer.note = `signed by ${signer.kind} ${signer.address.slice(0, 10)}…; waiting for the chain's outcome`;
		this.draw();
		const r = await new Promise<RequestInfo>((done) => {
			const check = () => {
				const r = l.requests.get(request);
				if (r && r.outcome !== 'open') { stop(); done(r); }
			};
			const stop = l.subscribe(check);
			check();
		});
		if (r.outcome === 'failed') {
			answer.badge = 'failed';
			answer.note = 'the request failed on chain: see its page';
			return;
		}
		const { bytes, ok } = await output(l, signer, request);
		answer.content = describeOutput(bytes);
		answer.badge = ok ? r.outcome : 'failed';
		answer.note = ok
			? `signed by ${signer.kind}; the output hashes, in this browser, to the digest the chain finalized`
			: 'the output a node served does not hash to the finalized digest';
		await this.keyPanel();
	}

	private async embed(text: string, answer: Turn) {
		const res = await fetch('/v1/embeddings', {
			method: 'POST', headers: this.headers(),
			body: JSON.stringify({ model: this.value('model'), input: [text], atoma: this.options() }),
		});
		const body = await res.json();
		if (!res.ok) throw new Error(body.error?.message ?? res.statusText);
		const v: number[] = body.data[0].embedding;
		answer.content = `[${v.slice(0, 8).map((x) => x.toFixed(4)).join(', ')}, …] (${v.length} dimensions)`;
		this.receipt(answer, body.atoma);
	}

	private async chat(answer: Turn) {
		const messages = this.turns.slice(0, -1).map((t) => ({ role: t.role, content: t.content }));
		const res = await fetch('/v1/chat/completions', {
			method: 'POST', headers: this.headers(),
			body: JSON.stringify({
				model: this.value('model'), messages, stream: true, max_tokens: Number(this.value('max-tokens')),
				atoma: this.options(),
			}),
		});
		if (!res.ok || !res.body) {
			const body = await res.json().catch(() => ({}));
			throw new Error(body.error?.message ?? `${res.status} ${res.statusText}`);
		}
		// Server-sent events: `data:` lines, an event per blank line, then `data: [DONE]`.
		const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
		let buffer = '';
		const dispatch = (event: string) => {
			const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
			if (data && data !== '[DONE]') this.chunk(answer, JSON.parse(data));
		};
		try {
			for (;;) {
				const { value, done } = await reader.read();
				buffer = (buffer + (value ?? '')).replace(/\r\n?/g, '\n');
				let cut;
				while ((cut = buffer.indexOf('\n\n')) >= 0) {
					dispatch(buffer.slice(0, cut));
					buffer = buffer.slice(cut + 2);
				}
				if (done) break;
			}
			dispatch(buffer);
		} finally {
			void reader.cancel().catch(() => {});
		}
	}

	private chunk(answer: Turn, c: any) {
		if (c.error) {
			// The text shown was not the output finalized: the verified one replaces it.
			if (c.error.code === 'output_replaced') {
				answer.content = c.atoma?.output ?? answer.content;
				answer.badge = 'replaced';
				answer.request = c.atoma?.request;
				answer.note = 'The node that streamed this answer was caught: its output differed from the verified one, shown instead.';
			} else {
				answer.badge = 'failed';
				answer.note = c.error.message;
				answer.request = c.atoma?.request ?? answer.request ?? c.error.message?.match(/0x[0-9a-f]{64}/)?.[0];
			}
		} else {
			const delta = c.choices?.[0]?.delta?.content;
			if (delta) answer.content += delta;
			if (c.atoma) this.receipt(answer, c.atoma);
		}
		this.draw();
	}

	private receipt(answer: Turn, r: any) {
		answer.request = r.request;
		answer.badge = r.replaced ? 'replaced' : r.status;
		if (r.status === 'failed') answer.note = r.failure;
	}
}
