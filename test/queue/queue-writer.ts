/**
 * Child process for queue-crash.test: rewrites queue.json in a loop with writeJsonAtomic, alternating
 * a small and a large queue, until it is killed. Prints "written" after its first whole write.
 */
import { writeJsonAtomic } from '../../src/store/atomic-json.js';

const [file] = process.argv.slice(2);
if (!file) throw new Error('usage: queue-writer <queue.json>');

export const SIZES = [10, 3000] as const;

function queue(round: number, size: number): unknown {
  return {
    schema_version: 1,
    updated_at: new Date(Date.UTC(2026, 0, 1) + round).toISOString(),
    lease_epoch: round,
    items: Array.from({ length: size }, (_, i) => ({
      slug: `s${i}`,
      branch: `agent/s${i}`,
      sha: (round * 100_000 + i).toString(16).padStart(40, '0'),
      status: i === 0 ? 'in_progress' : 'queued',
      ready_at: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
      log_offset: i * 300,
      enqueued_at: new Date(Date.UTC(2026, 0, 2)).toISOString(),
      transitions: i === 0 ? [{ at: new Date(Date.UTC(2026, 0, 3)).toISOString(), from: 'queued', to: 'in_progress', reason: 'dequeued', epoch: round }] : [],
    })),
  };
}

for (let round = 1; ; round++) {
  writeJsonAtomic(file, queue(round, SIZES[round % 2] as number));
  if (round === 1) process.stdout.write('written\n');
}
