/** The compact hashed sets and indexes the projection keeps its state in. Pure. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hash64, hashParts, HashIndex, KeySet, type Hash64Ref } from '../../src/readiness/keyset.js';

const h = (s: string) => hash64(s);

test('add/has/size, and add reports a key already present', () => {
  const s = new KeySet();
  assert.equal(s.size, 0);
  assert.equal(s.has(h('a')), false);
  assert.equal(s.add(h('a')), true);
  assert.equal(s.add(h('a')), false);
  assert.equal(s.has(h('a')), true);
  assert.equal(s.has(h('b')), false);
  assert.equal(s.add(h('')), true, 'the empty string is a key like any other');
  assert.equal(s.size, 2);
});

test('grows well past its initial capacity without losing a key', () => {
  const s = new KeySet(4);
  for (let i = 0; i < 50_000; i++) assert.equal(s.add(h(`key-${i}`)), true);
  assert.equal(s.size, 50_000);
  for (let i = 0; i < 50_000; i++) assert.equal(s.has(h(`key-${i}`)), true);
  for (let i = 50_000; i < 51_000; i++) assert.equal(s.has(h(`key-${i}`)), false);
});

test('members round trip keeps exactly the same members, 8 bytes each', () => {
  const s = new KeySet();
  for (let i = 0; i < 3000; i++) s.add(hashParts(`slug-${i}`, 'branch', String(i)));
  const members = s.members();
  assert.equal(members.byteLength, 3000 * 8);
  const back = KeySet.fromMembers(members);
  assert.equal(back.size, 3000);
  for (let i = 0; i < 3000; i++) assert.ok(back.has(hashParts(`slug-${i}`, 'branch', String(i))));
  assert.ok(!back.has(hashParts('slug-3000', 'branch', '3000')));
  assert.equal(back.add(hashParts('slug-1', 'branch', '1')), false);
  assert.equal(KeySet.fromMembers(new Uint32Array(0)).size, 0);
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

test('hashParts is the hash of the parts joined by NUL, without building the string', () => {
  assert.deepEqual(hashParts('s', 'b', 'c'), hash64('s\0b\0c'));
  assert.deepEqual(hashParts('s', 'b'), hash64('s\0b'));
  assert.notDeepEqual(hashParts('s', 'b'), hashParts('s\0b', ''));
});

/** An index over records whose keys live in an array, as the projection's columns do. */
function index(keys: Hash64Ref[]): HashIndex {
  return new HashIndex((r) => keys[r] as Hash64Ref, 4);
}

test('HashIndex: get, several records under one key, and removal that keeps every probe chain whole', () => {
  // Keys crafted to collide on the low bits: long probe chains, wrapping around the table.
  const keys: Hash64Ref[] = Array.from({ length: 600 }, (_, i) => ({ hi: i + 1, lo: (i % 7) * 1024 + 15 }));
  const ix = index(keys);
  for (let r = 0; r < keys.length; r++) ix.add(r);
  assert.equal(ix.size, 600);
  for (let r = 0; r < keys.length; r++) assert.equal(ix.get((keys[r] as Hash64Ref).hi, (keys[r] as Hash64Ref).lo), r);
  // Remove every third record, in an order that punches holes in the middle of the chains.
  const removed = new Set<number>();
  for (let r = 0; r < keys.length; r += 3) {
    assert.equal(ix.remove(r), true);
    removed.add(r);
  }
  assert.equal(ix.remove(0), false, 'removing twice finds nothing');
  for (let r = 0; r < keys.length; r++) assert.equal(ix.get((keys[r] as Hash64Ref).hi, (keys[r] as Hash64Ref).lo), removed.has(r) ? -1 : r);
  // Several records under one key (the push index: several slugs wait on one branch and sha).
  const same: Hash64Ref[] = [{ hi: 9, lo: 9 }, { hi: 9, lo: 9 }, { hi: 8, lo: 9 }, { hi: 9, lo: 9 }];
  const multi = index(same);
  same.forEach((_, r) => multi.add(r));
  const found: number[] = [];
  multi.forEach(9, 9, (r) => found.push(r));
  assert.deepEqual(found.sort(), [0, 1, 3]);
  multi.remove(1);
  const after: number[] = [];
  multi.forEach(9, 9, (r) => after.push(r));
  assert.deepEqual(after.sort(), [0, 3]);
});
