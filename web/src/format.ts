// Small helpers shared by the views: escaping, amounts, ids, durations.

/** Text made safe for innerHTML. */
export const esc = (s: unknown) =>
	String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** MIST with its value in SUI, e.g. `1000000 MIST (0.001 SUI)`. */
export function mist(v: bigint): string {
	const whole = v / 1_000_000_000n;
	const frac = (v < 0n ? -v : v) % 1_000_000_000n;
	const sui = frac === 0n ? `${whole}` : `${whole}.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`;
	return `${v} MIST (${sui} SUI)`;
}

/** An id shortened for a table, whole in its title. */
export const short = (id: string) => `<span class="id" title="${esc(id)}">${esc(id.slice(0, 8))}…${esc(id.slice(-4))}</span>`;

export const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

/** An element's HTML replaced only when it changed (keeps focus and selection elsewhere). */
export function render(el: Element, html: string) {
	if ((el as any).__html !== html) {
		el.innerHTML = html;
		(el as any).__html = html;
	}
}
