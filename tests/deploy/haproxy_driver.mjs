// The client side of tests/deploy/haproxy_test.sh, run inside its load-balancer namespace: it
// starts the three `lumen serve` replicas (each in its own namespace), sends 16 clients x 10
// requests through HAProxy with the official openai client, kills one replica (SIGKILL) and
// drains and restarts another (SIGTERM) midway, and checks:
//   - every request that started after HAProxy marked the killed replica down succeeds,
//     including every request the drained replica had accepted;
//   - every answer equals the answer a single server gives the same request;
//   - with X-Lumen-Session, more than 90% of the follow-up turns that no kill, drain or
//     restart came between report cached prompt tokens (the figure without the header is
//     printed beside it).
// Exit status 0 when all hold; the counts are printed either way.
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { createConnection } from 'node:net';
import { join } from 'node:path';

import { dataUrl, evalDir, evalQuestions, startServer } from '../server/lumen_server.mjs';

// The openai package is installed once for the server tests (tests/server/node_modules).
const OpenAI = createRequire(new URL('../server/package.json', import.meta.url))('openai');

const env = process.env;
const BIN = env.LUMEN_BIN;
const KEY = env.LUMEN_API_KEY;
const LB_URL = env.LB_URL;              // HAProxy's frontend, http://ADDR:8080
const SOCKET = env.HAPROXY_SOCKET;      // its stats socket
const LOG_DIR = env.LOG_DIR;
const PORT = 8080;
// "lumen1=NS:ADDR,lumen2=NS:ADDR,lumen3=NS:ADDR", the names of deploy/haproxy/lumen.cfg.
const REPLICAS = env.REPLICAS.split(',').map((s) => {
  const [name, rest] = s.split('=');
  const [ns, host] = rest.split(':');
  return { name, ns, host };
});
const CLIENTS = 16;
const PER_CLIENT = 10;
const MAX_TOKENS = 32;

const t0 = performance.now();
const now = () => performance.now() - t0;
const log = (msg) => console.log(`[${(now() / 1000).toFixed(2)} s] ${msg}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what, pred, timeoutMs = 20000, everyMs = 20) {
  const deadline = now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ---- replicas ---------------------------------------------------------------------------

let generation = 0;
function startReplica(r) {
  const logFile = join(LOG_DIR, `${r.name}-${generation++}.log`);
  const out = createWriteStream(logFile);
  const child = spawn('ip', ['netns', 'exec', r.ns, BIN, 'serve', '--host', r.host, '--port', String(PORT),
    '--threads', '1', '--drain-seconds', '30'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, LUMEN_API_KEY: KEY } });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; out.write(d); });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const listening = new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      out.write(d);
      if (stdout.includes('listening on')) resolve();
    });
    exited.then(({ code, signal }) => reject(new Error(`${r.name} exited (${code ?? signal}) before listening: ${stderr}`)));
  });
  listening.catch(() => {});  // awaited later; not an unhandled rejection meanwhile
  return { ...r, child, exited, listening, stderr: () => stderr, logFile };
}

// GET /health straight from a replica, on a connection of its own that closes after the
// answer (an idle keep-alive one would make the replica's drain wait for it).
function replicaHealth(r) {
  return new Promise((resolve, reject) => {
    http.get({ host: r.host, port: PORT, path: '/health', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
}

// ---- HAProxy's stats socket ---------------------------------------------------------------

function haproxyCommand(command) {
  return new Promise((resolve, reject) => {
    const sock = createConnection(SOCKET);
    let text = '';
    sock.on('data', (d) => { text += d; });
    sock.on('end', () => resolve(text));
    sock.on('error', reject);
    sock.write(`${command}\n`);
  });
}

// { 'lumen_session/lumen1': 'UP', ... } for every server line.
async function serverStates() {
  const lines = (await haproxyCommand('show stat')).trim().split('\n');
  const header = lines[0].replace(/^# /, '').split(',');
  const px = header.indexOf('pxname');
  const sv = header.indexOf('svname');
  const status = header.indexOf('status');
  const states = {};
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    if (f[sv] === 'FRONTEND' || f[sv] === 'BACKEND') continue;
    states[`${f[px]}/${f[sv]}`] = f[status];
  }
  return states;
}

// True when HAProxy counts `name` as `want` ('UP' or 'DOWN') in both backends.
async function haproxySees(name, want) {
  const states = await serverStates();
  const mine = Object.entries(states).filter(([k]) => k.endsWith(`/${name}`)).map(([, v]) => v);
  return mine.length === 2 && mine.every((s) => s.startsWith(want));
}

// ---- requests ---------------------------------------------------------------------------

const questions = evalQuestions();
const scenes = [...new Set(questions.map((q) => q.image))];
const imageTurn = (scene, text) => ({ role: 'user', content: [
  { type: 'image_url', image_url: { url: dataUrl(join(evalDir, scene)) } },
  { type: 'text', text },
] });

// Conversation k of client c (clients 0-11, two each): five questions about one scene of its
// own, so no two conversations share a prompt prefix.
function conversation(c, k) {
  const scene = scenes[c * 2 + k];
  return { scene, turns: questions.filter((q) => q.image === scene).slice(0, 5).map((q) => q.question) };
}
// The single requests of clients 12-15: eight image questions and four text prompts.
const singles = [
  ...scenes.slice(100, 108).map((scene, i) => {
    const q = questions.filter((x) => x.image === scene)[i % 5];
    return { name: `${scene}: ${q.question}`, messages: [imageTurn(scene, q.question)] };
  }),
  ...[0, 1, 2, 3].map((i) => ({ name: `text ${i}`, messages: [{ role: 'user', content: `Prompt ${i}: which shapes can a scene have?` }] })),
];

function turnMessages(conv, replies, t) {
  const messages = [imageTurn(conv.scene, conv.turns[0])];
  for (let j = 1; j <= t; ++j) {
    messages.push({ role: 'assistant', content: replies[j - 1] });
    messages.push({ role: 'user', content: conv.turns[j] });
  }
  return messages;
}

// One chat completion, whole or streamed; `replica` is HAProxy's X-Lumen-Replica header.
async function ask(client, messages, { stream = false, user } = {}) {
  const request = { model: 'imp-shapes', messages, max_tokens: MAX_TOKENS, temperature: 0, ...(user ? { user } : {}) };
  if (stream) {
    const { data, response } = await client.chat.completions
      .create({ ...request, stream: true, stream_options: { include_usage: true } }).withResponse();
    let text = '';
    let finish = null;
    let usage = null;
    for await (const chunk of data) {
      if (chunk.usage) usage = chunk.usage;
      if (chunk.choices.length === 0) continue;
      text += chunk.choices[0].delta.content ?? '';
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    if (!usage) throw new Error('the stream ended without its usage chunk');
    return { text, finish, usage, replica: response.headers.get('x-lumen-replica') };
  }
  const { data, response } = await client.chat.completions.create(request).withResponse();
  return { text: data.choices[0].message.content, finish: data.choices[0].finish_reason, usage: data.usage,
    replica: response.headers.get('x-lumen-replica') };
}

const newClient = (baseURL, headers = {}) =>
  new OpenAI({ baseURL, apiKey: KEY, maxRetries: 0, timeout: 60000, defaultHeaders: headers });

// ---- the run ----------------------------------------------------------------------------

async function baseline() {
  // The single-server answers (text and finish reason): a separate server on this namespace's
  // loopback, so the replicas' caches start cold. Each conversation runs turn by turn with its
  // own replies.
  const solo = await startServer(['--threads', '1'], { LUMEN_API_KEY: KEY });
  try {
    const client = newClient(solo.baseURL);
    const conversations = await Promise.all(Array.from({ length: 12 }, async (_, c) => Promise.all([0, 1].map(async (k) => {
      const conv = conversation(c, k);
      const replies = [];
      const answers = [];
      for (let t = 0; t < conv.turns.length; ++t) {
        const { text, finish } = await ask(client, turnMessages(conv, replies, t));
        replies.push(text);
        answers.push({ text, finish });
      }
      return answers;
    }))));
    const single = await Promise.all(singles.map(async (s) => {
      const { text, finish } = await ask(client, s.messages);
      return { text, finish };
    }));
    return { conversations, single };
  } finally {
    await solo.stop();
  }
}

function gate() {
  let open;
  const promise = new Promise((resolve) => { open = resolve; });
  return { promise, open };
}

async function main() {
  if (env.LUMEN_SKIP_SLOW_E2E === '1') {
    console.log('haproxy test: skipped under the sanitizer build (LUMEN_SKIP_SLOW_E2E=1)');
    process.exit(77);
  }
  for (const v of ['LUMEN_BIN', 'LUMEN_API_KEY', 'LB_URL', 'HAPROXY_SOCKET', 'LOG_DIR', 'REPLICAS']) {
    if (!env[v]) throw new Error(`${v} is not set (run tests/deploy/haproxy_test.sh)`);
  }
  const replicas = REPLICAS.map(startReplica);
  const expected = await baseline();
  await Promise.all(replicas.map((r) => r.listening));
  log(`3 replicas listening; baseline: ${expected.conversations.length * 2 * 5 + expected.single.length} answers from a single server`);
  await until('HAProxy to see all three replicas up', async () => {
    for (const r of replicas) if (!(await haproxySees(r.name, 'UP'))) return false;
    return true;
  });
  log('HAProxy sees all three replicas up');

  const records = [];
  const events = {};          // times (ms since start) of kill, detected, drain, exited, restart, up
  const detected = gate();    // requests 4.. of each client wait until the kill was detected
  const rejoined = gate();    // requests 8.. wait until the drained replica is back
  const [victim, drained, survivor] = replicas;
  let drainedAgain = null;

  async function runClient(c) {
    const kind = c < 8 ? 'affinity' : c < 12 ? 'plain' : 'single';
    const user = `user-${c}`;
    const client = newClient(`${LB_URL}/v1`, kind === 'affinity' ? { 'X-Lumen-Session': user } : {});
    const replies = [[], []];
    for (let i = 0; i < PER_CLIENT; ++i) {
      if (i === 4) await detected.promise;
      if (i === 8) await rejoined.promise;
      const rec = { c, kind, i };
      let messages;
      if (kind === 'single') {
        rec.spec = (c * 5 + i * 7) % singles.length;
        rec.expected = expected.single[rec.spec];
        rec.stream = (c + i) % 3 === 0;
        messages = singles[rec.spec].messages;
      } else {
        rec.k = Math.floor(i / 5);
        rec.t = i % 5;
        const conv = conversation(c, rec.k);
        const history = replies[rec.k];
        // Same history as the baseline's conversation, so the same request: compare the reply.
        rec.comparable = history.every((r, j) => r === expected.conversations[c][rec.k][j].text);
        rec.expected = expected.conversations[c][rec.k][rec.t];
        rec.stream = (c + i) % 2 === 1;
        messages = turnMessages(conv, history, rec.t);
      }
      rec.started = now();
      records.push(rec);
      try {
        const r = await ask(client, messages, { stream: rec.stream, user: kind === 'affinity' ? user : undefined });
        Object.assign(rec, { ok: true, text: r.text, finish: r.finish, replica: r.replica, prompt: r.usage.prompt_tokens,
          cached: r.usage.prompt_tokens_details?.cached_tokens ?? 0 });
        if (kind !== 'single') replies[rec.k].push(r.text);
      } catch (e) {
        Object.assign(rec, { ok: false, error: `${e.status ?? ''} ${e.message}` });
        if (kind !== 'single') replies[rec.k].push('');  // the conversation goes on, no longer comparable
      }
      rec.ended = now();
    }
  }

  async function chaos() {
    const finished = () => records.filter((r) => r.ended !== undefined).length;
    await until('30 answers', () => finished() >= 30, 60000);
    victim.child.kill('SIGKILL');
    events.kill = now();
    log(`SIGKILL ${victim.name} after ${finished()} answers`);
    await until(`HAProxy to mark ${victim.name} down`, () => haproxySees(victim.name, 'DOWN'), 20000, 50);
    events.detected = now();
    log(`HAProxy marked ${victim.name} down ${((events.detected - events.kill) / 1000).toFixed(2)} s after the kill`);
    detected.open();

    await until('72 answers', () => finished() >= 72, 60000);
    // Drain while the replica is busy, so the drain has accepted requests to finish.
    await until(`${drained.name} to be running sequences`, async () => (await replicaHealth(drained)).running_sequences > 0, 20000, 5);
    drained.child.kill('SIGTERM');
    events.drain = now();
    log(`SIGTERM ${drained.name} after ${finished()} answers`);
    const { code, signal } = await drained.exited;
    events.exited = now();
    log(`${drained.name} exited (${code ?? signal}) ${((events.exited - events.drain) / 1000).toFixed(2)} s after SIGTERM: ` +
      `${drained.stderr().trim().split('\n').filter((l) => /drain/.test(l)).join(' / ')}`);
    drained.exitCode = code;
    // Restart once HAProxy has taken it out (its /ready checks now fail), so that the test
    // also sees it put back by the checks, not only requests retried past it.
    await until(`HAProxy to mark ${drained.name} down`, () => haproxySees(drained.name, 'DOWN'), 20000, 50);
    events.drainedDown = now();
    log(`HAProxy marked ${drained.name} down ${((events.drainedDown - events.drain) / 1000).toFixed(2)} s after SIGTERM`);
    drainedAgain = startReplica(drained);
    events.restart = now();
    await drainedAgain.listening;
    await until(`HAProxy to mark ${drained.name} up again`, () => haproxySees(drained.name, 'UP'), 20000, 50);
    events.up = now();
    log(`${drained.name} restarted; HAProxy marked it up ${((events.up - events.restart) / 1000).toFixed(2)} s after the restart`);
    rejoined.open();
  }

  const loadStart = now();
  const chaosDone = chaos().catch((e) => { detected.open(); rejoined.open(); throw e; });
  await Promise.all([...Array.from({ length: CLIENTS }, (_, c) => runClient(c)), chaosDone]);
  const loadSeconds = (now() - loadStart) / 1000;

  // Stop the replicas that are left, by draining them as systemd would.
  const left = [survivor, drainedAgain];
  for (const r of left) r.child.kill('SIGTERM');
  const leftExits = await Promise.all(left.map((r) => r.exited));

  // ---- checks ----
  const failures = [];
  const total = records.length;
  const ok = records.filter((r) => r.ok);
  const failed = records.filter((r) => !r.ok);
  const failedAfterDetection = failed.filter((r) => r.started >= events.detected);
  const failedBeforeDetection = failed.filter((r) => r.started < events.detected);
  log(`load: ${CLIENTS} clients x ${PER_CLIENT} requests = ${total} in ${loadSeconds.toFixed(2)} s; ` +
    `${ok.length} succeeded, ${failed.length} failed (${failedBeforeDetection.length} started between the kill and its ` +
    `detection, ${failedAfterDetection.length} after)`);
  for (const r of failed) console.log(`  failed: client ${r.c} request ${r.i} at ${(r.started / 1000).toFixed(2)} s: ${r.error}`);
  if (total !== CLIENTS * PER_CLIENT) failures.push(`${total} requests were sent, not ${CLIENTS * PER_CLIENT}`);
  if (failedAfterDetection.length > 0) failures.push(`${failedAfterDetection.length} requests that started after the kill was detected failed`);
  // A request that failed must have been in flight on the killed replica when it died.
  const startedAfterDetection = records.filter((r) => r.started >= events.detected).length;
  log(`after detection: ${startedAfterDetection} requests started, ${startedAfterDetection - failedAfterDetection.length} succeeded`);

  // The drain: the replica had accepted requests when SIGTERM came, answered all of them, exited 0.
  const inFlightAtDrain = records.filter((r) => r.started < events.drain && r.ended > events.drain);
  const answeredInDrain = inFlightAtDrain.filter((r) => r.ok && r.replica === drained.name);
  const drainLine = drained.stderr().match(/draining, (\d+) sequences running, (\d+) queued/);
  log(`drain: ${inFlightAtDrain.length} requests in flight at SIGTERM, ${answeredInDrain.length} of them answered by ` +
    `${drained.name} while it drained (it reported ${drainLine ? drainLine[1] : '?'} running, ${drainLine ? drainLine[2] : '?'} queued); ` +
    `${inFlightAtDrain.filter((r) => !r.ok).length} failed`);
  if (drained.exitCode !== 0) failures.push(`${drained.name} exited with ${drained.exitCode} after SIGTERM`);
  if (!drainLine || Number(drainLine[1]) < 1) failures.push(`${drained.name} had no running sequence when it was drained`);
  if (answeredInDrain.length < 1) failures.push(`no request was answered by ${drained.name} during its drain`);
  if (!/drained in/.test(drained.stderr())) failures.push(`${drained.name} did not finish its drain in time: ${drained.stderr()}`);
  if (inFlightAtDrain.some((r) => !r.ok)) failures.push('a request in flight during the drain failed');
  const servedAfterRestart = records.filter((r) => r.ok && r.replica === drained.name && r.started > events.up).length;
  log(`${drained.name} after its restart answered ${servedAfterRestart} requests`);
  if (servedAfterRestart < 1) failures.push(`the restarted ${drained.name} answered no request`);
  leftExits.forEach(({ code, signal }, j) => {
    if (code !== 0) failures.push(`${left[j].name} exited with ${code ?? signal} when stopped at the end`);
  });

  // Answers equal the single server's.
  const compared = ok.filter((r) => r.kind === 'single' || r.comparable);
  const mismatched = compared.filter((r) => r.text !== r.expected.text || r.finish !== r.expected.finish);
  for (const r of mismatched.slice(0, 5)) {
    console.log(`  mismatch: client ${r.c} request ${r.i} (${r.replica}, stream ${r.stream}): ` +
      `${JSON.stringify(r.text)} (${r.finish}) vs ${JSON.stringify(r.expected.text)} (${r.expected.finish})`);
  }
  log(`answers: ${compared.length} compared with the single server's, ${mismatched.length} differ`);
  if (mismatched.length > 0) failures.push(`${mismatched.length} answers differ from the single server's`);
  // Only a turn after a failed one (whose history then differs) may go uncompared.
  const uncompared = ok.length - compared.length;
  if (uncompared > 0) log(`answers: ${uncompared} follow-up turns not compared (an earlier turn of theirs failed)`);

  // Affinity: follow-up turns that hit the previous turn's KV cache. cached_tokens > 0 alone
  // is a weak sign (any replica holds the chat template's first tokens from some other
  // request), so the figure that tells affinity apart is the whole previous prompt cached.
  const between = (a, b) => Object.values(events).some((t) => t >= a && t <= b);
  const pct = (n, d) => (d === 0 ? 0 : (100 * n) / d);
  const figures = (kind) => {
    const follow = records.filter((r) => r.kind === kind && r.t > 0 && r.ok);
    const prevOf = (r) => records.find((p) => p.c === r.c && p.k === r.k && p.t === r.t - 1);
    const calm = follow.filter((r) => prevOf(r)?.ok && !between(prevOf(r).started, r.ended));
    const any = (rs) => rs.filter((r) => r.cached > 0).length;
    const whole = (rs) => rs.filter((r) => r.cached >= prevOf(r).prompt).length;
    const same = calm.filter((r) => r.replica === prevOf(r).replica).length;
    const f = (n, d) => `${n}/${d} (${pct(n, d).toFixed(1)}%)`;
    log(`${kind === 'affinity' ? 'with X-Lumen-Session' : 'without it'}: ${follow.length} follow-up turns: ` +
      `cached_tokens > 0 ${f(any(follow), follow.length)}, the previous turn's whole prompt cached ` +
      `${f(whole(follow), follow.length)}; of the ${calm.length} with no kill, drain or restart between the turns: ` +
      `> 0 ${f(any(calm), calm.length)}, whole ${f(whole(calm), calm.length)}, on the previous turn's replica ${f(same, calm.length)}`);
    return { calm: calm.length, any: pct(any(calm), calm.length), whole: pct(whole(calm), calm.length) };
  };
  const affinity = figures('affinity');
  figures('plain');
  if (affinity.calm < 12) failures.push(`only ${affinity.calm} undisturbed follow-up turns with a session header (want >= 12)`);
  if (!(affinity.any > 90)) failures.push(`only ${affinity.any.toFixed(1)}% of the follow-up turns with a session header reported cached tokens (want > 90%)`);
  if (!(affinity.whole > 90)) failures.push(`only ${affinity.whole.toFixed(1)}% of the follow-up turns with a session header had the previous prompt cached (want > 90%)`);

  // HAProxy's log: the retries field of each request line (after actconn/feconn/beconn/srv_conn;
  // "+N" when the retry went to another replica).
  const haproxyLog = readFileSync(join(LOG_DIR, 'haproxy.log'), 'utf8');
  const retried = [...haproxyLog.matchAll(/ \d+\/\d+\/\d+\/\d+\/(\+?\d+) \d+\/\d+ "POST \/v1\/chat\/completions/g)]
    .filter((m) => m[1] !== '0').length;
  log(`HAProxy retried ${retried} requests on another replica (conn-failure or empty-response)`);

  const byReplica = {};
  for (const r of ok) byReplica[r.replica] = (byReplica[r.replica] ?? 0) + 1;
  log(`answers per replica: ${JSON.stringify(byReplica)}`);

  if (failures.length > 0) {
    for (const f of failures) console.log(`FAIL: ${f}`);
    console.log(`haproxy test: 0 passed, 1 failed`);
    process.exit(1);
  }
  console.log('haproxy test: 1 passed, 0 failed');
  process.exit(0);
}

const watchdog = setTimeout(() => { console.error('haproxy test: gave up after 150 s'); process.exit(1); }, 150000);
main().then(() => clearTimeout(watchdog)).catch((e) => {
  console.error(e);
  process.exit(1);
});
