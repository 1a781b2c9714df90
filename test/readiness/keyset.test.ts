/** The compact hashed set the projection keeps its membership in. Pure. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hash64, KeySet } from '../../src/readiness/keyset.js';

test('add/has/size, and add reports a key already present', () => {
  const s = new KeySet();
  assert.equal(s.size, 0);
  assert.equal(s.has('a'), false);
  assert.equal(s.add('a'), true);
  assert.equal(s.add('a'), false);
  assert.equal(s.has('a'), true);
  assert.equal(s.has('b'), false);
  assert.equal(s.add(''), true, 'the empty string is a key like any other');
  assert.equal(s.size, 2);
});

test('grows well past its initial capacity without losing a key', () => {
  const s = new KeySet(4);
  for (let i = 0; i < 50_000; i++) assert.equal(s.add(`key-${i}`), true);
  assert.equal(s.size, 50_000);
  for (let i = 0; i < 50_000; i++) assert.equal(s.has(`key-${i}`), true);
  for (let i = 50_000; i < 51_000; i++) assert.equal(s.has(`key-${i}`), false);
});

test('base64 round trip keeps exactly the same members', () => {
  const s = new KeySet();
  for (let i = 0; i < 3000; i++) s.add(`slug-${i}\0branch\0${i}`);
  const text = s.toBase64();
  assert.equal(Buffer.from(text, 'base64').length, 3000 * 8);
  const back = KeySet.fromBase64(text);
  assert.equal(back.size, 3000);
  for (let i = 0; i < 3000; i++) assert.ok(back.has(`slug-${i}\0branch\0${i}`));
  assert.ok(!back.has('slug-3000\0branch\x003000'));
  assert.equal(back.add('slug-1\0branch\x001'), false);
  assert.equal(KeySet.fromBase64('').size, 0);
  assert.equal(KeySet.fromBase64(new KeySet().toBase64()).size, 0);
});

test('hash64 is deterministic, 2×32 bits, never the reserved empty slot, and tells near keys apart', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    const [hi, lo] = hash64(`k${i}`);
    assert.deepEqual(hash64(`k${i}`), [hi, lo]);
    assert.ok(hi >= 0 && hi < 2 ** 32 && lo >= 0 && lo < 2 ** 32);
    assert.ok(hi !== 0 || lo !== 0);
    seen.add(`${hi}:${lo}`);
  }
  assert.equal(seen.size, 20_000);
  assert.notDeepEqual(hash64('ab'), hash64('ba'));
  assert.notDeepEqual(hash64('a\0b'), hash64('a\0\0b'));
});
