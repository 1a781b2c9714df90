// Generates the validators from schemas/ as ajv standalone code, so that no command compiles a
// schema at run time (ajv compiling the 2020-12 meta-schema and the schemas took 170–290 ms of every
// start; loading the generated module takes a few). The runtime imports only the generated modules
// and src/contract/formats.ts, never ajv. `--check` fails when a committed module is out of date.
import { _ } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import standaloneCode from 'ajv/dist/standalone/index.js';
import ucs2length from 'ajv/dist/runtime/ucs2length.js';
import { join } from 'node:path';
import { loadSchemas, root, writeOrCheck } from './schemas.mjs';

/** Each generated module and its validators: export name → schema file. */
const MODULES = {
  // What the tool reads and writes: loaded by every command that validates.
  'src/contract/validators.generated.ts': {
    event: 'readiness-event.schema.json',
    config: 'config.schema.json',
    outcome: 'outcome.schema.json',
    lease: 'lease.schema.json',
    leaseClaim: 'lease-claim.schema.json',
    checkpoint: 'checkpoint.schema.json',
    journal: 'journal.schema.json',
    snapshot: 'snapshot.schema.json',
    rejected: 'rejected.schema.json',
    configCache: 'config-cache.schema.json',
  },
  // What --json prints: for tests and scripts, never loaded by a command.
  'src/contract/output-validators.generated.ts': {
    status: 'status.schema.json',
    explain: 'explain.schema.json',
    parity: 'parity.schema.json',
    drain: 'drain.schema.json',
    conflicts: 'conflicts.schema.json',
    hooks: 'hooks.schema.json',
    hooksReceive: 'hooks-receive.schema.json',
    init: 'init.schema.json',
    effectiveConfig: 'effective-config.schema.json',
    resolvedConfig: 'resolved-config.schema.json',
    error: 'error.schema.json',
  },
  // Derived caches: loaded only by the command that keeps each one.
  'src/contract/cache-validators.generated.ts': {
    parityCache: 'parity-cache.schema.json',
    forecastCache: 'forecast-cache.schema.json',
    stackCache: 'stack-cache.schema.json',
    attributesCache: 'attributes-cache.schema.json',
    commitGraphCache: 'commit-graph-cache.schema.json',
    gitVersionCache: 'git-version-cache.schema.json',
  },
};
/** Schemas with no validator of their own: definitions only. */
const NO_VALIDATOR = new Set(['common.schema.json']);

const check = process.argv.includes('--check');
const schemas = loadSchemas();
const covered = new Set(Object.values(MODULES).flatMap((m) => Object.values(m)));
const forgotten = schemas.map((s) => s.file).filter((f) => !covered.has(f) && !NO_VALIDATOR.has(f));
if (forgotten.length > 0) throw new Error(`no validator generated for ${forgotten.join(', ')}: add it to MODULES in scripts/gen-validators.mjs`);

const stale = [];
for (const [path, exports] of Object.entries(MODULES)) {
  if (!writeOrCheck(join(root, path), moduleText(exports), check)) stale.push(path);
}
if (check && stale.length > 0) {
  console.error(`out of date with schemas/: ${stale.join(', ')}: run npm run gen:types`);
  process.exit(1);
}
console.log(check ? 'generated validators match schemas/' : `wrote ${Object.keys(MODULES).join(', ')}`);

function moduleText(exports) {
  const ajv = new Ajv2020({
    allErrors: true,
    discriminator: true,
    strict: true,
    allowUnionTypes: true,
    // Errors carry their parentSchema: an unknown field is answered with the known ones.
    verbose: true,
    // The config's defaults (list items included) are filled by its validator.
    useDefaults: true,
    code: { source: true, esm: true, lines: true, formats: _`formats` },
  });
  // Only the names matter here: the generated code calls formats[name] from src/contract/formats.ts.
  for (const name of ['git-branch', 'date-time']) ajv.addFormat(name, () => true);
  for (const { schema } of schemas) ajv.addSchema(schema);
  const byFile = new Map(schemas.map((s) => [s.file, s.schema]));
  let code = standaloneCode(ajv, Object.fromEntries(Object.entries(exports).map(([name, file]) => [name, byFile.get(file).$id])));

  // ajv exports `validateN` under each name before its definition; the typed exports go at the end.
  const names = new Map();
  code = code.replace(/^"use strict";\n?/, '').replace(/^export const (\w+) = (validate\d+);\n/gm, (_m, name, fn) => (names.set(name, fn), ''));
  // Its one runtime helper here, counting characters as JSON Schema does, is inlined: no ajv import.
  code = code.replaceAll(ucs2length.default.code, 'ucs2length');
  const requires = code.match(/require\([^)]*\)/g);
  if (requires) throw new Error(`generated code needs ${[...new Set(requires)].join(', ')}: inline it as ucs2length is`);

  const types = [...new Set(Object.values(exports).map((file) => byFile.get(file).title))].sort();
  const typed = Object.entries(exports).map(([name, file]) => `export const ${name}: Validator<${byFile.get(file).title}> = ${names.get(name)};`);
  return [
    '/* eslint-disable */',
    '// @ts-nocheck: ajv standalone JavaScript; the exports below carry the types.',
    '/* Generated by scripts/gen-validators.mjs from schemas/. Do not edit: change the schema and run `npm run gen:types`. */',
    `import type { ${types.join(', ')} } from './types.generated.js';`,
    "import type { Validator } from './validate.js';",
    "import { formats } from './formats.js';",
    '',
    code.trim(),
    '',
    ucs2length.default.toString(),
    '',
    ...typed,
    '',
  ].join('\n');
}
