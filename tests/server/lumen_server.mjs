// Starts and stops `lumen serve` for the Node tests: a fresh server on a free loopback port
// (--port 0; the port is read from the "listening on" line), stopped with SIGTERM.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const testsDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const evalDir = join(testsDir, 'data', 'eval', 'shapes');

export async function startServer(extraArgs = [], env = {}) {
  const bin = process.env.LUMEN_BIN;
  if (!bin) throw new Error('LUMEN_BIN must name the built lumen binary');
  // A key exported in the developer's shell must not switch auth on behind a test's back.
  const inherited = { ...process.env };
  delete inherited.LUMEN_API_KEY;
  const child = spawn(bin, ['serve', '--port', '0', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...inherited, ...env },
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');  // never leave a half-started server behind
      reject(new Error(`lumen serve did not start in 60 s: ${stderr}`));
    }, 60000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`lumen serve exited (${code}): ${stderr}`)); });
  });
  return {
    url,
    baseURL: `${url}/v1`,
    pid: child.pid,
    stderr: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      const { code } = await exited;
      if (code !== 0) throw new Error(`lumen serve exited with ${code}: ${stderr}`);
    },
  };
}

export function dataUrl(path) {
  const mime = path.endsWith('.jpg') ? 'image/jpeg' : 'image/png';
  return `data:${mime};base64,${readFileSync(path).toString('base64')}`;
}

// Resident set size of a process, KiB (/proc/PID/status VmRSS).
export function rssKiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(m[1]);
}

// The eval set's questions with the greedy answers the checkpoint is known to give.
export function evalQuestions() {
  return readFileSync(join(evalDir, 'questions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

export async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  if (!m) throw new Error(`metric ${name} missing`);
  return Number(m[1]);
}
