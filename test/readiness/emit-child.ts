/**
 * Child process for emit.test: appends `count` readiness events through the producer's `emit`
 * (validation, one O_APPEND write each), as many concurrent producers would. Ids are `<tag>-<i>`.
 * It says `ready` once loaded, and starts when its stdin ends: the test starts every producer at once.
 */
import { loadConfig } from '../../src/config/config.js';
import { quietContext } from '../../src/context.js';
import { emit } from '../../src/producer/emit.js';

const [cwd, countText, tag] = process.argv.slice(2);
if (!cwd || !countText || !tag) throw new Error('usage: emit-child <repo> <count> <tag>');
const loaded = loadConfig({ cwd });
const ctx = quietContext({ cwd, env: process.env });
const sha = (i: number) => i.toString(16).padStart(40, '0');
process.stdout.write('ready\n');
await new Promise((resolve) => process.stdin.on('end', resolve).resume());

for (let i = 0; i < Number(countText); i++) {
  const id = `${tag}-${i}`;
  switch (i % 3) {
    case 0:
      emit(loaded, ctx, 'review_approved', { id, slug: `${tag}-${i}`, review_round: 1, reviewer_session_id: `reviewer-${tag}` });
      break;
    case 1:
      emit(loaded, ctx, 'finalize_ready', { id, slug: `${tag}-${i}`, branch: `agents/${tag}/${i}`, sha: sha(i), worker_session_id: 'w', orchestrator_session_id: 'o' });
      break;
    default:
      emit(loaded, ctx, 'branch_pushed', { id, branch: `agents/${tag}/${i}`, sha: sha(i), remote: 'origin', pusher: `pusher-${tag}-${'p'.repeat(i % 200)}` });
  }
}
