/**
 * Compact sets and indexes of string keys, stored as 64-bit hashes in typed arrays (open addressing,
 * linear probing). The projection keeps millions of keys (every pushed branch+sha, every finalized
 * candidate…): as JS strings in Sets and Maps that costs ~100 bytes a key and seconds to rebuild at a
 * restart; here a key costs 8 bytes (plus the table's slack) and a table loads from a snapshot as one
 * typed array. A false "present" needs a 64-bit collision: with 10^6 keys the chance that any two
 * collide is about 3·10^-8.
 */

/** A 64-bit hash as two uint32 words; (0, 0) is reserved for "empty". */
export type Hash64 = [number, number];

const SEP = 0; // the separator between parts: NUL, which no slug, branch, sha or id contains

/** Hash of the parts joined by NUL, without building the joined string (this runs for every event). */
export function hashParts(a: string, b?: string, c?: string): Hash64 {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  let len = 0;
  const feed = (s: string) => {
    for (let i = 0; i < s.length; i++) {
      const ch = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ ch, 0x01000193);
      h2 = Math.imul(h2 ^ ch, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    len += s.length;
  };
  const sep = () => {
    h1 = Math.imul(h1 ^ SEP, 0x01000193);
    h2 = Math.imul(h2 ^ SEP, 0x5bd1e995);
    h2 ^= h2 >>> 15;
    len += 1;
  };
  feed(a);
  if (b !== undefined) {
    sep();
    feed(b);
  }
  if (c !== undefined) {
    sep();
    feed(c);
  }
  h1 = fmix(h1 ^ len);
  h2 = fmix(h2 ^ h1);
  if (h1 === 0 && h2 === 0) h2 = 1;
  return [h1 >>> 0, h2 >>> 0];
}

/** The hash of one string key (the same as hashParts(key)). */
export const hash64 = (key: string): Hash64 => hashParts(key);

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

function nextPow2(n: number): number {
  let p = 16;
  while (p < n) p *= 2;
  return p;
}

/** Slots for `count` keys at a load factor of at most 0.7. */
const slotsFor = (count: number) => nextPow2(Math.ceil((count * 10) / 7) + 1);

/** A set of 64-bit hashes. */
export class KeySet {
  private table: Uint32Array;
  private count = 0;

  constructor(capacity = 1024) {
    this.table = new Uint32Array(2 * slotsFor(capacity));
  }

  get size(): number {
    return this.count;
  }

  has(h: Hash64): boolean {
    const t = this.table;
    const mask = t.length / 2 - 1;
    for (let i = h[1] & mask; ; i = (i + 1) & mask) {
      const hi = t[2 * i] as number;
      const lo = t[2 * i + 1] as number;
      if (hi === h[0] && lo === h[1]) return true;
      if (hi === 0 && lo === 0) return false;
    }
  }

  /** Adds the key; false when it was already present. */
  add(h: Hash64): boolean {
    return this.insert(h[0], h[1]);
  }

  private insert(hi: number, lo: number): boolean {
    if ((this.count + 1) * 10 > (this.table.length / 2) * 7) this.grow();
    const t = this.table;
    const mask = t.length / 2 - 1;
    for (let i = lo & mask; ; i = (i + 1) & mask) {
      const h = t[2 * i] as number;
      const l = t[2 * i + 1] as number;
      if (h === hi && l === lo) return false;
      if (h === 0 && l === 0) {
        t[2 * i] = hi;
        t[2 * i + 1] = lo;
        this.count += 1;
        return true;
      }
    }
  }

  private grow(): void {
    const old = this.table;
    this.table = new Uint32Array(old.length * 2);
    this.count = 0;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0 || old[i + 1] !== 0) this.insert(old[i] as number, old[i + 1] as number);
  }

  /** The members as (hi, lo) pairs, in table order: what a snapshot stores. */
  members(): Uint32Array {
    const out = new Uint32Array(this.count * 2);
    let o = 0;
    const t = this.table;
    for (let i = 0; i < t.length; i += 2) {
      if (t[i] === 0 && t[i + 1] === 0) continue;
      out[o++] = t[i] as number;
      out[o++] = t[i + 1] as number;
    }
    return out;
  }

  static fromMembers(pairs: Uint32Array): KeySet {
    const set = new KeySet(pairs.length / 2);
    for (let i = 0; i + 1 < pairs.length; i += 2) set.insert(pairs[i] as number, pairs[i + 1] as number);
    return set;
  }
}

/**
 * An index from 64-bit hashes to record numbers, whose keys live in the records themselves (the
 * caller's `keyOf`): a slot is 4 bytes. With `multi`, one key may map to several records.
 */
export class HashIndex {
  private slots: Uint32Array;
  private count = 0;

  constructor(
    private readonly keyOf: (record: number) => Hash64Ref,
    capacity = 1024,
  ) {
    this.slots = new Uint32Array(slotsFor(capacity));
  }

  get size(): number {
    return this.count;
  }

  /** The record with this key, or -1. */
  get(hi: number, lo: number): number {
    const s = this.slots;
    const mask = s.length - 1;
    for (let i = lo & mask; ; i = (i + 1) & mask) {
      const v = s[i] as number;
      if (v === 0) return -1;
      const k = this.keyOf(v - 1);
      if (k.hi === hi && k.lo === lo) return v - 1;
    }
  }

  /** Every record with this key. */
  forEach(hi: number, lo: number, fn: (record: number) => void): void {
    const s = this.slots;
    const mask = s.length - 1;
    const found: number[] = [];
    for (let i = lo & mask; ; i = (i + 1) & mask) {
      const v = s[i] as number;
      if (v === 0) break;
      const k = this.keyOf(v - 1);
      if (k.hi === hi && k.lo === lo) found.push(v - 1);
    }
    for (const r of found) fn(r);
  }

  /** Adds a record under its key (which keyOf must already return). */
  add(record: number): void {
    if ((this.count + 1) * 10 > this.slots.length * 7) this.grow();
    this.place(record);
    this.count += 1;
  }

  private place(record: number): void {
    const s = this.slots;
    const mask = s.length - 1;
    for (let i = this.keyOf(record).lo & mask; ; i = (i + 1) & mask) {
      if (s[i] === 0) {
        s[i] = record + 1;
        return;
      }
    }
  }

  /** Removes a record (backward-shift deletion keeps every probe chain whole, without tombstones). */
  remove(record: number): boolean {
    const s = this.slots;
    const mask = s.length - 1;
    let i = this.keyOf(record).lo & mask;
    for (; ; i = (i + 1) & mask) {
      const v = s[i] as number;
      if (v === 0) return false;
      if (v === record + 1) break;
    }
    s[i] = 0;
    this.count -= 1;
    for (let j = (i + 1) & mask; s[j] !== 0; j = (j + 1) & mask) {
      const v = s[j] as number;
      const home = this.keyOf(v - 1).lo & mask;
      // Move v back into the hole when the hole lies on v's probe path (cyclically between home and j).
      if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
        s[i] = v;
        s[j] = 0;
        i = j;
      }
    }
    return true;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    for (const v of old) if (v !== 0) this.place(v - 1);
  }
}

/** A key as the index reads it back from its record (a shared object: no allocation per probe). */
export interface Hash64Ref {
  hi: number;
  lo: number;
}
