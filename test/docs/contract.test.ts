/**
 * docs/contract.md states what this implementation honours: its tables and lists are held against
 * the schemas, the error catalogue and the command line, so that the contract the docs state cannot
 * drift from what the tool does.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ERROR_CODES } from '../../src/contract/errors.js';
import { EVENT_TYPE_VALUES, READINESS_EVENT_FIELDS, REASON_CODE_VALUES } from '../../src/contract/types.generated.js';
import { cli, tempDirsRemovedAfter } from '../support/index.js';

const doc = readFileSync(new URL('../../../docs/contract.md', import.meta.url), 'utf8');
const schema = (name: string) => JSON.parse(readFileSync(new URL(`../../../schemas/${name}.schema.json`, import.meta.url), 'utf8')) as SchemaNode;

interface SchemaNode {
  properties?: Record<string, SchemaNode & { default?: unknown }>;
}

/** The section of the doc under `## heading`, up to the next one. */
function section(heading: string): string {
  const start = doc.indexOf(`\n## ${heading}\n`);
  assert.ok(start !== -1, `docs/contract.md has a section "${heading}"`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end === -1 ? undefined : end);
}

/** First-column cells of the section's tables: `key` → the rest of the row. */
function tableRows(text: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const m of text.matchAll(/^\| `([^`]+)`[^|]*\|(.*)\|$/gm)) rows.set(m[1] as string, m[2] as string);
  return rows;
}

describe('docs/contract.md', () => {
  test('config keys: every key of the schema, no other, each with the default the schema gives', () => {
    const rows = tableRows(section('Config keys'));
    const keys: [string, unknown][] = [];
    for (const [key, node] of Object.entries(schema('config').properties ?? {})) {
      if (node.properties) for (const [sub, child] of Object.entries(node.properties)) keys.push([`${key}.${sub}`, child.default]);
      else keys.push([key, node.default]);
    }
    assert.deepEqual([...rows.keys()].sort(), keys.map(([k]) => k).sort());
    for (const [key, value] of keys) {
      if (value === undefined) continue;
      assert.ok((rows.get(key) ?? '').trimStart().startsWith(`\`${JSON.stringify(value).replace(/^"|"$/g, '')}\``), `${key}: default ${JSON.stringify(value)} in ${rows.get(key) ?? ''}`);
    }
  });

  test('readiness events: each type with the fields the schema requires, and its optional ones', () => {
    const rows = tableRows(section('Readiness events'));
    assert.deepEqual([...rows.keys()], [...EVENT_TYPE_VALUES]);
    for (const type of EVENT_TYPE_VALUES) {
      const row = rows.get(type) ?? '';
      for (const field of READINESS_EVENT_FIELDS[type].required) assert.ok(row.includes(`\`${field}\``), `${type}: ${field} in ${row}`);
      for (const field of READINESS_EVENT_FIELDS[type].optional.filter((f) => f !== 'id')) assert.match(row, new RegExp(`optional \`${field}\``), `${type}: optional ${field}`);
    }
  });

  test('the outcome ledger: every field of the schema; the reason codes of the schema', () => {
    const ledger = section('Outcome ledger');
    const named = new Set([...ledger.matchAll(/^\| ([^|]+)\|/gm)].flatMap((m) => [...(m[1] as string).matchAll(/`(\w+)`/g)].map((x) => x[1])));
    for (const field of Object.keys(schema('outcome').properties ?? {})) assert.ok(named.has(field), `outcome field ${field}`);
    const reasons = /Reason codes: ([^.]+)\./.exec(ledger.replace(/\n/g, ' '))?.[1] ?? '';
    assert.deepEqual([...reasons.matchAll(/`(\w+)`/g)].map((m) => m[1]), [...REASON_CODE_VALUES]);
  });

  test('commands: exactly the ones the CLI has, the hooks subcommands too', async () => {
    const commands = section('Commands and exit codes').replace(/\n/g, ' ');
    const top = /`shadow-integrator ([a-z |]+)`/.exec(commands)?.[1]?.split(' | ') ?? [];
    const hooks = /`hooks ([a-z |]+)`/.exec(commands)?.[1]?.split(' | ') ?? [];
    const dir = tempDirsRemovedAfter()().dir;
    const listed = (help: string) => (help.split('Commands:')[1] ?? '').split('\n').map((l) => /^ {2}([a-z-]+)/.exec(l)?.[1]).filter((c): c is string => Boolean(c) && c !== 'help');
    assert.deepEqual(top.sort(), listed((await cli(dir, ['--help'])).stdout).sort());
    assert.deepEqual(hooks.sort(), listed((await cli(dir, ['hooks', '--help'])).stdout).sort());
    for (const command of ['conflicts', 'retry']) assert.ok(top.includes(command), `${command}: a command of the contract`);
  });

  test('every error code of the catalogue is named (a trailing * names a family)', () => {
    const named = [...doc.matchAll(/`(E_[A-Z_]+\*?)`/g)].map((m) => m[1] as string);
    for (const code of ERROR_CODES) assert.ok(named.some((n) => n === code || (n.endsWith('*') && code.startsWith(n.slice(0, -1)))), `${code} is not in docs/contract.md`);
  });
});
