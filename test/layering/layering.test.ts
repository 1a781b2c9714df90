/**
 * Data flows one way, and an import against the flow fails CI. Each module of src/ (its top-level
 * directory, or context.ts) may import only the modules listed for it below; dynamic `import()` and
 * type-only imports count like any other.
 *
 *   readiness → queue → runtime → engine → git, and runtime → ledger (the pipeline);
 *   context, contract and store are below everyone; config just above them;
 *   producer (emit) writes readiness events for the cli and the hooks;
 *   report and hooks are read-only consumers; cli is on top, and nothing imports cli.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const BELOW = ['context', 'contract', 'store'] as const;

const ALLOWED: Record<string, readonly string[]> = {
  context: [],
  contract: [],
  store: ['contract', 'context'],
  config: [...BELOW],
  readiness: [...BELOW],
  queue: ['readiness', ...BELOW],
  ledger: [...BELOW],
  git: [...BELOW],
  engine: ['git', 'config', ...BELOW],
  runtime: ['queue', 'readiness', 'engine', 'git', 'ledger', 'config', ...BELOW],
  producer: ['config', ...BELOW],
  report: ['readiness', 'queue', 'ledger', 'git', 'config', ...BELOW],
  hooks: ['producer', 'config', ...BELOW],
  cli: ['report', 'hooks', 'producer', 'runtime', 'engine', 'git', 'ledger', 'queue', 'readiness', 'config', ...BELOW],
};

/**
 * Single files a module may import although their module is not allowed, each with why. The lease
 * rules are plain functions over plain data (leaseState, describeOwner): reading them is not reading
 * the runtime's state.
 */
const FILE_EXCEPTIONS: Record<string, readonly string[]> = {
  report: ['runtime/lease.ts'],
};

interface Import {
  from: string;
  to: string;
}

/** The module of a path relative to src/: its first directory, or the file's name for a top-level file. */
const moduleOf = (path: string): string => (path.includes('/') ? (path.split('/')[0] as string) : path.replace(/\.ts$/, ''));

/** Every import against the table, as "from → to". */
function violations(imports: readonly Import[]): string[] {
  const out: string[] = [];
  for (const { from, to } of imports) {
    const a = moduleOf(from);
    const b = moduleOf(to);
    if (a === b) continue;
    const allowed = ALLOWED[a];
    if (!allowed) out.push(`${from}: module "${a}" is not in the layering table`);
    else if (!allowed.includes(b) && !(FILE_EXCEPTIONS[a] ?? []).includes(to)) out.push(`${from} → ${to} (${a} may import ${allowed.join(', ') || 'nothing'})`);
  }
  return out;
}

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

const SPECIFIER = /\b(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;

/** The relative imports of every file under src/, resolved to paths relative to src/ (`.js` → `.ts`). */
function importsOfSrc(): Import[] {
  const imports: Import[] = [];
  for (const file of sourceFiles(SRC)) {
    // Comments may quote imports; they are not imports.
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    for (const m of text.matchAll(SPECIFIER)) {
      const spec = m[1] ?? m[2] ?? m[3] ?? '';
      if (!spec.startsWith('.')) continue;
      imports.push({ from: relative(SRC, file), to: relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, '.ts') });
    }
  }
  return imports;
}

describe('layering', () => {
  test('every import in src/ goes the way data flows', () => {
    const imports = importsOfSrc();
    assert.ok(imports.length > 100, `only ${imports.length} imports found: the scan is broken`);
    assert.deepEqual(violations(imports), []);
  });

  test('nothing imports the cli, and only the cli imports report and hooks', () => {
    for (const [module, allowed] of Object.entries(ALLOWED)) {
      if (module !== 'cli') assert.ok(!allowed.includes('cli') && !allowed.includes('report') && !allowed.includes('hooks'), module);
    }
  });

  test('the rule catches what runs against the flow (the three imports it was written for, and a dynamic one)', () => {
    assert.deepEqual(
      violations([
        { from: 'report/status.ts', to: 'runtime/session.ts' },
        { from: 'readiness/emit.ts', to: 'config/state.ts' },
        { from: 'hooks/scripts.ts', to: 'git/index.ts' },
        { from: 'store/paths.ts', to: 'cli/main.ts' },
        { from: 'report/status.ts', to: 'runtime/lease.ts' },
        { from: 'newmodule/x.ts', to: 'store/paths.ts' },
      ]),
      [
        'report/status.ts → runtime/session.ts (report may import readiness, queue, ledger, git, config, context, contract, store)',
        'readiness/emit.ts → config/state.ts (readiness may import context, contract, store)',
        'hooks/scripts.ts → git/index.ts (hooks may import producer, config, context, contract, store)',
        'store/paths.ts → cli/main.ts (store may import contract, context)',
        'newmodule/x.ts: module "newmodule" is not in the layering table',
      ],
    );
    const dynamic = 'const m = await import(\'../runtime/drain.js\');';
    assert.deepEqual([...dynamic.matchAll(SPECIFIER)].map((m) => m[2]), ['../runtime/drain.js']);
  });
});
