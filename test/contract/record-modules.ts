/**
 * Preloaded with `node --import` by the hot-path tests: when the process exits, writes the CommonJS
 * modules it loaded (ajv and yaml are CommonJS) to the file named by SI_RECORD_MODULES.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const out = process.env.SI_RECORD_MODULES;
if (out) process.on('exit', () => writeFileSync(out, JSON.stringify(Object.keys(createRequire(import.meta.url).cache))));
