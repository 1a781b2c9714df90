/**
 * Child process for the kill -9 scenario (scenarios.ts): one drain of the repository in argv[2], in process, with an
 * instant engine, stopped after its first round (a shutdown: the snapshot is written), that kills itself with SIGKILL just before its Nth write (argv[3]; 0: never) and
 * prints the kinds of the writes it made when it was not killed.
 */
import { loadConfig } from '../../src/config/config.js';
import { drain } from '../../src/runtime/drain.js';
import { testContext } from '../support/context.js';
import { recordingEngine } from '../support/runtime.js';

const [dir, killAt] = process.argv.slice(2);
if (!dir) throw new Error('usage: crash-child <repo> <write number to die at>');
const writes: string[] = [];
const ctx = testContext({ cwd: dir });
// Stopped (as by SIGTERM) once its first round ends: the shutdown writes a projection snapshot too.
const shutdown = new AbortController();
await drain(loadConfig({ cwd: dir }), ctx, {
  engine: recordingEngine().engine,
  signal: shutdown.signal,
  hooks: {
    beforeWrite: (what) => {
      writes.push(what);
      if (what === 'checkpoint') shutdown.abort();
      if (writes.length === Number(killAt)) {
        process.stdout.write(`dying before write ${writes.length} (${what})\n`);
        process.kill(process.pid, 'SIGKILL');
      }
    },
  },
});
process.stdout.write(`${JSON.stringify({ writes })}\n`);
