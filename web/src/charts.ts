// Charts drawn as SVG: bars over time and points per series, each with a
// title and a text alternative for screen readers.

import { esc } from './format';

export interface Series { name: string; color: string; points: [number, number][] }

const W = 420, H = 160, PAD = 30;

/** Points per series (x: time in ms, y: a value), with its y label. */
export function scatter(title: string, yLabel: string, series: Series[]): string {
	const all = series.flatMap((s) => s.points);
	const summary = series.map((s) => `${s.name}: ${s.points.length} points`).join('; ');
	if (all.length === 0) return frame(title, summary, `<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data yet</text>`);
	const [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
	const y1 = Math.max(...all.map((p) => p[1])) * 1.1 || 1;
	const sx = (x: number) => PAD + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * PAD);
	const sy = (y: number) => H - PAD - (y / y1) * (H - 2 * PAD);
	const dots = series.map((s) =>
		s.points.map(([x, y]) => `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${s.color}"><title>${esc(s.name)}: ${y.toFixed(2)}</title></circle>`).join(''),
	).join('');
	const legend = series.map((s, i) => `<text x="${PAD + i * 140}" y="12" fill="${s.color}">● ${esc(s.name)}</text>`).join('');
	const axis = `<text x="4" y="${PAD - 4}" font-size="10">${esc(yLabel)} (max ${(y1 / 1.1).toFixed(2)})</text>
		<line x1="${PAD}" y1="${H - PAD}" x2="${W - PAD}" y2="${H - PAD}" stroke="#888"/>`;
	return frame(title, summary, legend + axis + dots);
}

/** Counts per bucket of time (e.g. requests per minute). */
export function bars(title: string, buckets: { label: string; value: number; color?: string }[]): string {
	const summary = buckets.map((b) => `${b.label}: ${b.value}`).join('; ') || 'no data yet';
	const max = Math.max(1, ...buckets.map((b) => b.value));
	const w = (W - 2 * PAD) / Math.max(buckets.length, 1);
	const body = buckets.map((b, i) => {
		const h = (b.value / max) * (H - 2 * PAD);
		return `<rect x="${(PAD + i * w + 2).toFixed(1)}" y="${(H - PAD - h).toFixed(1)}" width="${Math.max(w - 4, 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${b.color ?? '#3b82f6'}"><title>${esc(b.label)}: ${b.value}</title></rect>`;
	}).join('');
	const axis = `<line x1="${PAD}" y1="${H - PAD}" x2="${W - PAD}" y2="${H - PAD}" stroke="#888"/><text x="4" y="${PAD - 4}" font-size="10">max ${max}</text>`;
	return frame(title, summary, axis + body);
}

function frame(title: string, summary: string, body: string): string {
	return `<figure class="chart"><figcaption>${esc(title)}</figcaption>
		<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(`${title}: ${summary}`)}">${body}</svg></figure>`;
}
