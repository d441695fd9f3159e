// An output's bytes in words, read as the protocol encodes them
// (protocol/src/output.rs): a text output only in its canonical encoding,
// which the nodes' engine writes and the Rust SDK checks.

import { blake2b } from '@noble/hashes/blake2.js';

import { hex } from './ledger';

const TEXT = 'atoma-text/v1\n';
const EMBEDDING = 'atoma-embedding/v1\n';

/** The output shown to a reader: its text, or what it is. */
export function describeOutput(bytes: Uint8Array): string {
	const head = new TextDecoder().decode(bytes.slice(0, 32));
	if (head.startsWith(TEXT)) return textOf(bytes) ?? `a text output not in the canonical encoding (${bytes.length} bytes)`;
	if (head.startsWith(EMBEDDING)) {
		const view = new DataView(bytes.buffer, bytes.byteOffset + EMBEDDING.length);
		// dtype u8, ndim u8, then the dims as u64 LE (rows, dimension).
		if (view.byteLength >= 18 && view.getUint8(1) === 2) {
			return `embeddings: ${view.getBigUint64(2, true)} × ${view.getBigUint64(10, true)} f32`;
		}
	}
	return `${bytes.length} bytes`;
}

/** The text of a canonical text output, else null. */
export function textOf(bytes: Uint8Array): string | null {
	let s: string;
	try {
		s = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
	} catch {
		return null;
	}
	if (!s.startsWith(TEXT)) return null;
	try {
		const v = JSON.parse(s.slice(TEXT.length));
		const canonical = JSON.stringify({
			finish_reason: v.finish_reason, prompt_tokens: v.prompt_tokens, text: v.text, tokens: v.tokens,
		});
		return canonical === s.slice(TEXT.length) && typeof v.text === 'string' ? v.text : null;
	} catch {
		return null;
	}
}

/** An output's digest as the chain records it: BLAKE2b-256, in hex. */
export const outputDigest = (bytes: Uint8Array) => hex(blake2b(bytes, { dkLen: 32 }));
