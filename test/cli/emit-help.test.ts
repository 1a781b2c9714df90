/** `emit --help` says which fields each event type needs, as the schema says (read here, from the schema itself). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { cli, tempDirsRemovedAfter } from '../support/index.js';

interface Member {
  required: string[];
  properties: Record<string, { const?: string }>;
}

test('emit --help: for each event type of the schema, its required fields as flags and its optional ones in brackets', async () => {
  const schema = JSON.parse(readFileSync(new URL('../../../schemas/readiness-event.schema.json', import.meta.url), 'utf8')) as { $defs: Record<string, Member> };
  const r = await cli(tempDirsRemovedAfter()().dir, ['emit', '--help']);
  assert.equal(r.code, 0, r.stderr);
  const members = Object.values(schema.$defs).filter((d) => d.properties?.type?.const);
  assert.equal(members.length, 4);
  const timestamps = new Set(['approved_at', 'ready_at', 'pushed_at', 'requested_at']);
  for (const m of members) {
    const type = m.properties.type?.const as string;
    const line = r.stdout.split('\n').find((l) => l.trimStart().startsWith(`${type} `));
    assert.ok(line, `no line for ${type}:\n${r.stdout}`);
    const flags = new Set(line.trim().split(/\s+/).slice(1));
    for (const field of Object.keys(m.properties).filter((f) => f !== 'type' && f !== 'id')) {
      const flag = `--${field.replace(/_/g, '-')}`;
      // A required timestamp is filled with now: emit does not need it.
      const needed = m.required.includes(field) && !timestamps.has(field);
      assert.ok(flags.has(needed ? flag : `[${flag}]`), `${type}: ${field} shown as ${needed ? flag : `[${flag}]`} in: ${line}`);
    }
    assert.equal(flags.size, Object.keys(m.properties).length - 2, `${type}: no other flag (${line})`);
  }
});
