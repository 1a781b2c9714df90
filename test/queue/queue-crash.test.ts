/**
 * queue.json survives its writer being killed mid-write: a child process rewrites it in a loop with
 * writeJsonAtomic and is SIGKILLed at random moments, again and again; every time, the file parses,
 * validates against queue.schema.json and is one whole queue the writer wrote.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import type { QueueFile } from '../../src/contract/types.generated.js';
import { validators } from '../../src/contract/validate.js';
import { readJson } from '../../src/store/atomic-json.js';
import { sleep, tempDir } from '../support/index.js';

const WRITER = fileURLToPath(new URL('./queue-writer.js', import.meta.url));
const ROUNDS = 25;

const state = tempDir();
after(() => state.remove());

/** A tiny deterministic PRNG: a failing run can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test(`queue.json stays whole across ${ROUNDS} SIGKILLs of its writer at random moments`, async (t) => {
  const seed = Number(process.env.SEED ?? Date.now() % 100_000);
  t.diagnostic(`seed ${seed}`);
  const random = prng(seed);
  let killedMidWrite = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const child = spawn(process.execPath, [WRITER, state.paths.queue], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await sleep(random() * 60);
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    if (readdirSync(state.dir).some((f) => f.endsWith('.tmp'))) killedMidWrite += 1;

    const file = readJson<QueueFile>(state.paths.queue, validators.queue);
    assert.ok(file, 'queue.json exists');
    assert.ok(file.items.length === 10 || file.items.length === 3000, `a queue of ${file.items.length} items was never written`);
    // Every item comes from the same write (the writer's round is in the epoch and in every sha).
    const epoch = file.lease_epoch ?? 0;
    assert.ok(epoch >= 1);
    file.items.forEach((it, i) => {
      assert.equal(it.slug, `s${i}`);
      assert.equal(it.sha, (epoch * 100_000 + i).toString(16).padStart(40, '0'));
    });
  }
  t.diagnostic(`${killedMidWrite} of ${ROUNDS} kills left a temp file behind (killed mid-write)`);
});
