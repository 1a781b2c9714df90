// `npm test`: node --test over the compiled tests, two files at a time (two cores). Every
// dist/test/<dir>/<name>.test.js runs in a process of its own, except those a group in
// dist/test/groups/ imports: the group runs them together in one process (see test/groups/*.ts).
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const tests = join(root, 'dist', 'test');
const groups = readdirSync(join(tests, 'groups')).filter((f) => f.endsWith('.js')).map((f) => join(tests, 'groups', f));
const grouped = new Set(groups.flatMap((g) => [...readFileSync(g, 'utf8').matchAll(/^import '(\.\.\/[^']+\.test\.js)';$/gm)].map((m) => resolve(tests, 'groups', m[1]))));
const files = readdirSync(tests, { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== 'groups')
  .flatMap((d) => readdirSync(join(tests, d.name)).filter((f) => f.endsWith('.test.js')).map((f) => join(tests, d.name, f)))
  .filter((f) => !grouped.has(f))
  .sort();
// Temporary repositories in memory (/dev/shm) unless TMPDIR says where: git and the state store
// fsync, which on a disk costs CPU and time and proves nothing a test asserts (no test cuts the
// power; a killed process leaves the page cache as it was either way). Only with room to spare: a
// container's /dev/shm is often 64 MiB, and a full one would fail tests for a reason they do not name.
const SHM_FREE_BYTES = 2 * 1024 ** 3;
const env = { ...process.env };
// No test makes a TLS connection, and with OpenSSL 3 this variable makes every Node start parse the
// whole CA bundle it names (nodejs/node#40524): ~45 ms of CPU per process on a machine that sets it
// for its whole environment, across the hundred-odd Node processes a run starts.
delete env.NODE_EXTRA_CA_CERTS;
if (!env.TMPDIR && isWritableDir('/dev/shm') && freeBytes('/dev/shm') >= SHM_FREE_BYTES) env.TMPDIR = '/dev/shm';
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...[...files, ...groups].map((f) => relative(root, f))], { cwd: root, env, stdio: 'inherit' });
process.exitCode = r.status ?? 1;

function isWritableDir(dir) {
  try {
    accessSync(dir, constants.W_OK);
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function freeBytes(dir) {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}
