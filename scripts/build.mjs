// Builds dist/ incrementally and removes what no source produces any more.
// Incremental: a build with nothing changed writes nothing, so `npm test` can run beside another
// `npm test` of the same checkout without rewriting modules the other run is loading. Stale files:
// a deleted test's compiled copy must not keep running.
// Up to date: when no input changed since the last build that succeeded (dist/.build-ok, dated when
// that build started), tsc is not even started — its incremental check alone costs seconds of CPU
// on every `npm test`. A failed build removes the stamp, so its errors are reported again.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
const stamp = join(dist, '.build-ok');
const INPUTS = ['src', 'test', 'fixtures', 'bench', 'schemas', 'tsconfig.json', 'package.json', 'package-lock.json', 'node_modules/.package-lock.json', 'scripts/build.mjs'];

if (!upToDate()) {
  const started = new Date();
  rmSync(stamp, { force: true });
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  writeFileSync(stamp, '');
  utimesSync(stamp, started, started);
}

for (const dir of ['src', 'test', 'fixtures', 'bench']) removeStale(join(dist, dir));
chmodSync(join(dist, 'src/cli/bin.js'), 0o755);

function removeStale(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) removeStale(path);
    else if (entry.name.endsWith('.js') && !existsSync(join(root, relative(dist, path)).replace(/\.js$/, '.ts'))) rmSync(path);
  }
}

function upToDate() {
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  const newer = (path) => {
    if (!existsSync(path)) return false;
    const st = statSync(path);
    if (st.mtimeMs > built) return true;
    return st.isDirectory() && readdirSync(path).some((entry) => newer(join(path, entry)));
  };
  return !INPUTS.some((input) => newer(join(root, input)));
}
