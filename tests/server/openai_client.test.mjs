// `lumen serve` driven by the official `openai` npm package, unchanged: a chat completion with
// a base64 image, a streamed one, a follow-up turn, and the error shapes the client parses.
// Run by CTest (server_openai_client) through run_node.sh, which sets LUMEN_BIN.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import OpenAI from 'openai';

import { dataUrl, evalDir, evalQuestions, metric, startServer, testsDir } from './lumen_server.mjs';

const questions = evalQuestions();
const caption = questions.find((q) => q.type === 'caption');
const count = questions.find((q) => q.type === 'count' && q.image !== caption.image);
const imageMessage = (q) => ({
  role: 'user',
  content: [
    { type: 'image_url', image_url: { url: dataUrl(join(evalDir, q.image)) } },
    { type: 'text', text: q.question },
  ],
});

describe('openai client against lumen serve', () => {
  let server;
  let client;
  before(async () => {
    server = await startServer();
    client = new OpenAI({ baseURL: server.baseURL, apiKey: 'unused', maxRetries: 0 });
  });
  after(async () => { await server.stop(); });

  test('lists the model', async () => {
    const models = await client.models.list();
    assert.equal(models.data.length, 1);
    assert.equal(models.data[0].id, 'imp-shapes');
    assert.equal(models.data[0].object, 'model');
    const one = await client.models.retrieve('imp-shapes');
    assert.equal(one.id, 'imp-shapes');
  });

  test('answers a question about a base64 image, as the checkpoint does', async () => {
    const completion = await client.chat.completions.create({
      model: 'imp-shapes',
      messages: [imageMessage(caption)],
      max_tokens: 64,
    });
    assert.match(completion.id, /^chatcmpl-/);
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, 'imp-shapes');
    assert.equal(typeof completion.created, 'number');
    assert.equal(completion.choices.length, 1);
    assert.equal(completion.choices[0].message.role, 'assistant');
    assert.equal(completion.choices[0].message.content, caption.reference_output);
    assert.equal(completion.choices[0].finish_reason, 'stop');
    // 64 image tokens + the template's text; the reply and its eos.
    assert.ok(completion.usage.prompt_tokens > 64);
    assert.ok(completion.usage.completion_tokens > 3);
    assert.equal(completion.usage.total_tokens, completion.usage.prompt_tokens + completion.usage.completion_tokens);
  });

  test('streams the same answer in chunks ending with the finish reason and usage', async () => {
    const stream = await client.chat.completions.create({
      model: 'imp-shapes',
      messages: [imageMessage(count)],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let chunks = 0;
    let finish = null;
    let usage = null;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      if (chunk.usage) usage = chunk.usage;
      if (chunk.choices.length === 0) continue;
      chunks += 1;
      text += chunk.choices[0].delta.content ?? '';
      if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
    }
    assert.equal(text, count.reference_output);
    assert.ok(chunks >= 3, `only ${chunks} chunks`);
    assert.equal(finish, 'stop');
    assert.ok(usage && usage.completion_tokens > 0);
  });

  test('stops at max_tokens with finish_reason length', async () => {
    const completion = await client.chat.completions.create({
      model: 'imp-shapes', messages: [imageMessage(caption)], max_completion_tokens: 2,
    });
    assert.equal(completion.choices[0].finish_reason, 'length');
    assert.equal(completion.usage.completion_tokens, 2);
  });

  test('a follow-up turn reuses the held KV cache and the repeated image hits the cache', async () => {
    const hitsBefore = await metric(server.url, 'lumen_image_cache_hits_total');
    const first = await client.chat.completions.create({ model: 'imp-shapes', messages: [imageMessage(caption)] });
    const follow = await client.chat.completions.create({
      model: 'imp-shapes',
      messages: [
        imageMessage(caption),
        { role: 'assistant', content: first.choices[0].message.content },
        { role: 'user', content: 'How many objects are in the image?' },
      ],
    });
    assert.ok(follow.usage.prompt_tokens_details.cached_tokens >= first.usage.prompt_tokens,
      `cached ${follow.usage.prompt_tokens_details.cached_tokens} of ${follow.usage.prompt_tokens}`);
    assert.ok(follow.choices[0].message.content.length > 0);
    assert.ok(await metric(server.url, 'lumen_image_cache_hits_total') >= hitsBefore + 2);
  });

  test('errors have the OpenAI shape the client parses', async () => {
    const expectError = async (request, status, code, param) => {
      await assert.rejects(client.chat.completions.create({ model: 'imp-shapes', ...request }), (e) => {
        assert.ok(e instanceof OpenAI.APIError, `not an APIError: ${e}`);
        assert.equal(e.status, status, e.message);
        assert.equal(e.code, code, e.message);
        if (param !== undefined) assert.equal(e.param, param);
        assert.equal(e.type, status === 429 ? 'rate_limit_error' : 'invalid_request_error');
        assert.ok(e.message.length > 10);
        return true;
      });
    };
    const image = (url) => [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }, { type: 'text', text: 'Hi' }] }];
    await expectError({ messages: image('data:image/png;base64,@@@@') }, 400, 'invalid_base64', 'messages[0].content[0].image_url');
    await expectError({ messages: image('data:image/gif;base64,R0lGODlh') }, 400, 'unsupported_image_type');
    await expectError({ messages: image(dataUrl(join(testsDir, 'data', 'images', 'truncated.jpg'))) }, 400, 'invalid_image');
    await expectError({ messages: image('https://example.com/cat.png') }, 400, 'image_source_refused');
    await expectError({ messages: [] }, 400, 'invalid_value', 'messages');
    await expectError({ messages: [{ role: 'user', content: 'hi' }], n: 2 }, 400, 'unsupported_parameter', 'n');
    await expectError({ messages: [{ role: 'user', content: 'hi' }], temperature: 'hot' }, 400, 'invalid_type', 'temperature');
    await assert.rejects(client.models.retrieve('gpt-4o'), (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
    // The error types the client maps statuses to.
    await assert.rejects(client.chat.completions.create({ model: 'imp-shapes', messages: [{ role: 'assistant', content: 'x' }] }),
      OpenAI.BadRequestError);
  });
});

describe('openai client against a server with an API key', () => {
  let server;
  before(async () => { server = await startServer([], { LUMEN_API_KEY: 'sk-test-123' }); });
  after(async () => { await server.stop(); });

  test('the right key is accepted and a wrong one gets 401', async () => {
    const good = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test-123', maxRetries: 0 });
    const reply = await good.chat.completions.create({ model: 'imp-shapes', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4 });
    assert.equal(reply.choices.length, 1);
    const bad = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test-124', maxRetries: 0 });
    await assert.rejects(bad.models.list(), (e) => {
      assert.ok(e instanceof OpenAI.AuthenticationError);
      assert.equal(e.status, 401);
      assert.equal(e.code, 'invalid_api_key');
      return true;
    });
  });
});
