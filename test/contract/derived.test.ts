/**
 * What the schemas define is derived, never copied: no pattern of a schema is written again in src/
 * (code uses SLUG_PATTERN, SHA_PATTERN, … from types.generated.ts), and no command reads schemas/ at
 * run time (the generated validators and values carry it). Reads the source tree.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as generated from '../../src/contract/types.generated.js';

const srcDir = fileURLToPath(new URL('../../../src/', import.meta.url));

/** src/**\/*.ts written by hand, with their text. */
function handWritten(dir = srcDir): { file: string; text: string }[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return handWritten(path);
    return path.endsWith('.ts') && !path.endsWith('.generated.ts') ? [{ file: path.slice(srcDir.length), text: readFileSync(path, 'utf8') }] : [];
  });
}

test('no schema pattern is copied into src/', () => {
  const patterns = Object.entries(generated).filter((e): e is [string, RegExp] => e[1] instanceof RegExp);
  assert.ok(patterns.some(([name]) => name === 'SLUG_PATTERN') && patterns.some(([name]) => name === 'SHA_PATTERN'));
  const copies: string[] = [];
  for (const [name, re] of patterns) {
    // The pattern's body, without its anchors and outer group: what a copy would contain.
    const body = re.source.replace(/^\^/, '').replace(/\$$/, '').replace(/^\((.*)\)$/, '$1');
    for (const { file, text } of handWritten()) if (text.includes(body)) copies.push(`${file} copies ${name} (${body})`);
  }
  assert.deepEqual(copies, []);
});

test('nothing in src/ reads schemas/ at run time', () => {
  const readers = handWritten()
    .filter(({ file, text }) => file !== join('contract', 'validate.ts') && /schemaDir|\.schema\.json['"`]/.test(text))
    .map(({ file }) => file);
  assert.deepEqual(readers, []);
});
