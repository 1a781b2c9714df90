// Builds dist/ incrementally and removes what no source produces any more.
// Incremental: a build with nothing changed writes nothing, so `npm test` can run beside another
// `npm test` of the same checkout without rewriting modules the other run is loading. Stale files:
// a deleted test's compiled copy must not keep running.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });

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
