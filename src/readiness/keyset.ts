/**
 * A set of string keys stored as 64-bit hashes in one open-addressing table of 32-bit words.
 * The projection keeps millions of keys (every event id, every pushed branch+sha…) and persists them
 * in the checkpoint: as JS strings in a Set that costs ~100 bytes a key and a slow restart; here it is
 * 8 bytes a key and a single base64 string. A false "present" needs a 64-bit collision: with 10^6
 * keys the chance that any two collide is about 3·10^-8.
 */
const EMPTY_HI = 0;
const EMPTY_LO = 0;

export class KeySet {
  private table: Uint32Array;
  private count = 0;

  constructor(capacity = 1024) {
    this.table = new Uint32Array(2 * nextPow2(Math.max(16, Math.ceil((capacity * 10) / 7) + 1)));
  }

  get size(): number {
    return this.count;
  }

  has(key: string): boolean {
    const [hi, lo] = hash64(key);
    return this.find(hi, lo) >= 0;
  }

  /** Adds the key; returns false when it was already present. */
  add(key: string): boolean {
    const [hi, lo] = hash64(key);
    return this.insert(hi, lo);
  }

  toBase64(): string {
    const out = Buffer.alloc(this.count * 8);
    let o = 0;
    for (let i = 0; i < this.table.length; i += 2) {
      const hi = this.table[i] as number;
      const lo = this.table[i + 1] as number;
      if (hi === EMPTY_HI && lo === EMPTY_LO) continue;
      out.writeUInt32BE(hi, o);
      out.writeUInt32BE(lo, o + 4);
      o += 8;
    }
    return out.toString('base64');
  }

  static fromBase64(text: string): KeySet {
    const buf = Buffer.from(text, 'base64');
    const set = new KeySet(buf.length / 8);
    for (let o = 0; o + 8 <= buf.length; o += 8) set.insert(buf.readUInt32BE(o), buf.readUInt32BE(o + 4));
    return set;
  }

  private slots(): number {
    return this.table.length / 2;
  }

  private find(hi: number, lo: number): number {
    const mask = this.slots() - 1;
    for (let i = lo & mask; ; i = (i + 1) & mask) {
      const h = this.table[2 * i] as number;
      const l = this.table[2 * i + 1] as number;
      if (h === hi && l === lo) return i;
      if (h === EMPTY_HI && l === EMPTY_LO) return -1;
    }
  }

  private insert(hi: number, lo: number): boolean {
    if ((this.count + 1) * 10 > this.slots() * 7) this.grow();
    const mask = this.slots() - 1;
    for (let i = lo & mask; ; i = (i + 1) & mask) {
      const h = this.table[2 * i] as number;
      const l = this.table[2 * i + 1] as number;
      if (h === hi && l === lo) return false;
      if (h === EMPTY_HI && l === EMPTY_LO) {
        this.table[2 * i] = hi;
        this.table[2 * i + 1] = lo;
        this.count += 1;
        return true;
      }
    }
  }

  private grow(): void {
    const old = this.table;
    this.table = new Uint32Array(old.length * 2);
    this.count = 0;
    for (let i = 0; i < old.length; i += 2) {
      const hi = old[i] as number;
      const lo = old[i + 1] as number;
      if (hi !== EMPTY_HI || lo !== EMPTY_LO) this.insert(hi, lo);
    }
  }
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Two independent 32-bit FNV-1a style mixes of the UTF-16 code units; (0,0) is reserved for "empty". */
export function hash64(key: string): [number, number] {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  h1 = fmix(h1 ^ key.length);
  h2 = fmix(h2 ^ h1);
  if (h1 === 0 && h2 === 0) h2 = 1;
  return [h1 >>> 0, h2 >>> 0];
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}
