/**
 * What `npm pack` ships, as npm lists it (`--dry-run`, after the build `npm test` ran first): a
 * LICENSE, the docs the README links to, no source map (the sources are not shipped), and a bin that
 * is executable after a build from nothing (`npm link` and `npm install -g <checkout>` run it in place).
 * .ci/install-check installs the real tarball and runs it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testEnv } from '../support/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; license: string };

test('the package: LICENSE, README and the docs it links to, no source map, an executable bin', () => {
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, env: testEnv(), encoding: 'utf8' })) as [{ files: { path: string; mode: number }[] }];
  const files = new Map(packed.files.map((f) => [f.path, f.mode]));
  assert.equal(pkg.license, 'MIT');
  assert.match(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), /^MIT License\n/);
  for (const path of ['LICENSE', 'README.md', 'docs/contract.md', 'docs/json-output.md', 'schemas/outcome.schema.json']) assert.ok(files.has(path), `${path} is shipped`);
  assert.deepEqual([...files.keys()].filter((f) => f.endsWith('.map')), [], 'no source maps: they would point at sources the package does not contain');
  for (const [path] of files) if (path.endsWith('.js')) assert.doesNotMatch(readFileSync(join(ROOT, path), 'utf8'), /sourceMappingURL/, path);
  for (const bin of Object.values(pkg.bin)) {
    assert.ok(files.has(bin), `${bin} is shipped`);
    assert.ok(((files.get(bin) ?? 0) & 0o111) !== 0, `${bin} is executable in the package`);
    assert.ok((statSync(join(ROOT, bin)).mode & 0o111) !== 0, `${bin} is executable after npm run build (npm link runs it in place)`);
  }
  // Every file the README and the shipped docs link to is in the package too.
  for (const doc of ['README.md', 'docs/contract.md']) {
    for (const [, target] of readFileSync(join(ROOT, doc), 'utf8').matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(target as string)) continue;
      const path = normalize(join(dirname(doc), target as string)).replace(/\/$/, '');
      assert.ok(files.has(path) || [...files.keys()].some((f) => f.startsWith(`${path}/`)), `${doc} links to ${target as string}, which the package does not contain`);
    }
  }
});
