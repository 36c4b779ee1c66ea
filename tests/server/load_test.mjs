// Load test for `lumen serve` on the bundled model: 32 concurrent clients x 10 requests (mixed
// image and text questions, every third streamed), through the official openai client.
// Asserts: zero failures; every answer identical to the same request served alone (greedy);
// RSS after the run within 10% of RSS after warm-up; decode really batched. Prints
// throughput, p50/p99 latency and the single-stream baseline. Exit status 0 on success.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import OpenAI from 'openai';

import { dataUrl, evalDir, evalQuestions, metric, rssKiB, startServer } from './lumen_server.mjs';

const CLIENTS = Number(process.env.LOAD_CLIENTS ?? 32);
const PER_CLIENT = Number(process.env.LOAD_REQUESTS ?? 10);

// The request mix: 36 image questions over 12 scenes (so images repeat across requests and hit
// the embedding cache) and 12 text-only prompts.
function requestMix() {
  const questions = evalQuestions();
  const scenes = [...new Set(questions.map((q) => q.image))].slice(0, 12);
  const specs = [];
  for (const [i, scene] of scenes.entries()) {
    const qs = questions.filter((q) => q.image === scene).slice(0, 3);
    for (const q of qs) {
      specs.push({
        name: `${scene}: ${q.question}`,
        messages: [{ role: 'user', content: [
          { type: 'image_url', image_url: { url: dataUrl(join(evalDir, scene)) } },
          { type: 'text', text: q.question },
        ] }],
        max_tokens: 48,
      });
    }
    specs.push({
      name: `text ${i}`,
      messages: [{ role: 'user', content: `Question ${i}: what shapes and colours can a scene have?` }],
      max_tokens: 12 + i,
    });
  }
  return specs;
}

async function ask(client, spec, stream) {
  const started = performance.now();
  const request = { model: 'imp-shapes', messages: spec.messages, max_tokens: spec.max_tokens, temperature: 0 };
  let text = '';
  let finish = null;
  let tokens = 0;
  if (stream) {
    const s = await client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    for await (const chunk of s) {
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
      if (chunk.choices.length === 0) continue;
      text += chunk.choices[0].delta.content ?? '';
      finish = chunk.choices[0].finish_reason ?? finish;
    }
  } else {
    const c = await client.chat.completions.create(request);
    text = c.choices[0].message.content;
    finish = c.choices[0].finish_reason;
    tokens = c.usage.completion_tokens;
  }
  return { text, finish, tokens, ms: performance.now() - started };
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function main() {
  if (process.env.LUMEN_SKIP_SLOW_E2E === '1') {
    console.log('load test: skipped under the sanitizer build (LUMEN_SKIP_SLOW_E2E=1): its timings and RSS mean nothing there');
    process.exit(77);
  }
  // LOAD_SERVER_ARGS adds serve flags, e.g. "--threads 1" to compare thread counts.
  const extra = (process.env.LOAD_SERVER_ARGS ?? '').split(' ').filter((a) => a.length > 0);
  const server = await startServer(['--max-sequences', '32', '--max-queue', '64', ...extra]);
  const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 120000 });
  try {
    const specs = requestMix();

    // Single stream: every distinct request alone, one after another. These are the expected
    // answers, and the baseline latency and throughput.
    const alone = [];
    const aloneStart = performance.now();
    for (const spec of specs) alone.push(await ask(client, spec, false));
    const aloneSeconds = (performance.now() - aloneStart) / 1000;
    const aloneTokens = alone.reduce((n, r) => n + r.tokens, 0);
    const aloneSorted = alone.map((r) => r.ms).sort((a, b) => a - b);

    // Warm-up at full concurrency, so caches and allocator arenas reach their working size.
    await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = 0; i < 2; ++i) await ask(client, specs[(c * 2 + i) % specs.length], (c + i) % 3 === 0);
    }));
    const rssWarm = rssKiB(server.pid);
    const stepsBefore = await metric(server.url, 'lumen_decode_steps_total');
    const seqsBefore = await metric(server.url, 'lumen_decode_step_sequences_total');

    const latencies = [];
    const failures = [];
    let mismatches = 0;
    let tokens = 0;
    const loadStart = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = 0; i < PER_CLIENT; ++i) {
        const k = (c * 7 + i * 5) % specs.length;
        const stream = (c + i) % 3 === 0;
        try {
          const r = await ask(client, specs[k], stream);
          latencies.push(r.ms);
          tokens += r.tokens;
          if (r.text !== alone[k].text || r.finish !== alone[k].finish) {
            mismatches += 1;
            if (mismatches <= 5) {
              console.error(`MISMATCH ${specs[k].name} (stream=${stream}): ${JSON.stringify(r.text)} vs alone ${JSON.stringify(alone[k].text)}`);
            }
          }
        } catch (e) {
          failures.push(`${specs[k].name}: ${e.status ?? ''} ${e.message}`);
        }
      }
    }));
    const loadSeconds = (performance.now() - loadStart) / 1000;
    const rssAfter = rssKiB(server.pid);
    const steps = (await metric(server.url, 'lumen_decode_steps_total')) - stepsBefore;
    const stepSeqs = (await metric(server.url, 'lumen_decode_step_sequences_total')) - seqsBefore;
    const cacheHits = await metric(server.url, 'lumen_image_cache_hits_total');
    const sorted = latencies.slice().sort((a, b) => a - b);

    const total = CLIENTS * PER_CLIENT;
    console.log(`single stream: ${specs.length} requests alone in ${aloneSeconds.toFixed(2)} s: ` +
      `${(specs.length / aloneSeconds).toFixed(1)} req/s, ${(aloneTokens / aloneSeconds).toFixed(0)} tokens/s, ` +
      `p50 ${percentile(aloneSorted, 50).toFixed(0)} ms, p99 ${percentile(aloneSorted, 99).toFixed(0)} ms`);
    console.log(`load: ${CLIENTS} clients x ${PER_CLIENT} requests = ${total} in ${loadSeconds.toFixed(2)} s: ` +
      `${(total / loadSeconds).toFixed(1)} req/s, ${(tokens / loadSeconds).toFixed(0)} tokens/s, ` +
      `p50 ${percentile(sorted, 50).toFixed(0)} ms, p99 ${percentile(sorted, 99).toFixed(0)} ms`);
    console.log(`decode: ${steps} batched steps, ${(stepSeqs / Math.max(1, steps)).toFixed(1)} sequences per step; ` +
      `image cache hits ${cacheHits}`);
    console.log(`RSS: ${(rssWarm / 1024).toFixed(1)} MiB after warm-up, ${(rssAfter / 1024).toFixed(1)} MiB after the run ` +
      `(${(((rssAfter - rssWarm) / rssWarm) * 100).toFixed(1)}%)`);

    assert.deepEqual(failures, [], `${failures.length} of ${total} requests failed`);
    assert.equal(latencies.length, total);
    assert.equal(mismatches, 0, `${mismatches} answers differ from the same request served alone`);
    assert.ok(Math.abs(rssAfter - rssWarm) <= 0.10 * rssWarm, 'RSS after the run is not within 10% of RSS after warm-up');
    assert.ok(stepSeqs / steps > 2, 'decode steps were not batched');
    assert.ok(cacheHits > 0, 'repeated images never hit the image cache');
    console.log('load test: 1 passed, 0 failed');
  } finally {
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
