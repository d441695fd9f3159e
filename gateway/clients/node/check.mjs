// atoma-gateway driven by the official `openai` npm package: the model
// list, a chat completion streamed and not, a completion, embeddings and
// the errors, as a TypeScript/JavaScript application would call them.
// Prints one JSON object of what it saw (tests/tests/gateway.rs).
//
// Usage: node check.mjs --base-url URL --api-key KEY --chat-model ID --embed-model ID
import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import OpenAI from "openai";

const { values: args } = parseArgs({
  options: {
    "base-url": { type: "string" },
    "api-key": { type: "string" },
    "chat-model": { type: "string" },
    "embed-model": { type: "string" },
  },
});
const client = new OpenAI({ baseURL: args["base-url"], apiKey: args["api-key"], maxRetries: 0, timeout: 300_000 });
const chatModel = args["chat-model"];
const seen = { client: `openai-node ${OpenAI.VERSION ?? ""}`.trim() };

const models = [];
for await (const m of client.models.list()) models.push(m);
assert.ok(models.some((m) => m.id === chatModel) && models.some((m) => m.id === args["embed-model"]));
seen.models = models.map((m) => ({ id: m.id, digest: m.atoma.digest }));

const messages = [{ role: "user", content: "Say hello to Sui." }];
const chat = await client.chat.completions.create({ model: chatModel, messages, max_tokens: 12 });
assert.equal(chat.atoma.status, "verified");
assert.ok(chat.usage.completion_tokens > 0);
seen.chat = { text: chat.choices[0].message.content, receipt: chat.atoma };

const stream = await client.chat.completions.create({
  model: chatModel, messages, max_tokens: 12, stream: true, stream_options: { include_usage: true },
});
let text = "";
const statuses = [];
let usage = null;
let pieces = 0;
for await (const chunk of stream) {
  if (chunk.choices.length) text += chunk.choices[0].delta.content ?? "";
  if (chunk.choices.length && chunk.choices[0].delta.content) pieces += 1;
  if (chunk.atoma) statuses.push(chunk.atoma.status);
  if (chunk.usage) usage = chunk.usage;
}
assert.equal(text, chat.choices[0].message.content);
// The text comes with a first_output receipt, unless finality came first.
assert.ok(["first_output,verified", "verified"].includes(statuses.join(",")), statuses.join(","));
assert.equal(usage.completion_tokens, chat.usage.completion_tokens);
// Token by token, as the node generates it.
assert.ok(pieces > 2, `the text came in ${pieces} pieces`);
seen.stream = { statuses, pieces };

const completion = await client.completions.create({ model: chatModel, prompt: "The quick brown fox", max_tokens: 8 });
assert.equal(completion.atoma.status, "verified");
seen.completion = { text: completion.choices[0].text };

const embeddings = await client.embeddings.create({ model: args["embed-model"], input: ["A man is eating food.", "Sui"] });
assert.deepEqual(embeddings.data.map((d) => d.embedding.length), [384, 384]);
seen.embeddings = { head: embeddings.data[0].embedding.slice(0, 4) };

async function expectError(kind, call) {
  try {
    await call();
  } catch (e) {
    assert.ok(e instanceof kind, `${e}`);
    return { status: e.status, code: e.code, param: e.param };
  }
  assert.fail(`expected ${kind.name}`);
}
seen.errors = {
  unknown_model: await expectError(OpenAI.NotFoundError, () =>
    client.chat.completions.create({ model: "no-such-model", messages })),
  n: await expectError(OpenAI.BadRequestError, () =>
    client.chat.completions.create({ model: chatModel, messages, n: 2 })),
};
assert.equal(seen.errors.unknown_model.code, "model_not_found");
assert.equal(seen.errors.n.param, "n");
process.stdout.write(JSON.stringify(seen));
