/**
 * Merge bases and ancestry answered in this process, without spawning git: from the tool's own
 * commit-graph (read here, never written here; see graph.ts) for the commits it holds, and from the
 * warm cat-file for the few it does not hold yet (commits pushed since it was written). The walk is
 * git's own `paint_down_to_common` (commit-reach.c), ordered as git orders it — by corrected commit
 * date when the graph has them, else topological level; a commit outside the graph is "infinity", as
 * in git — so its set of best common ancestors is exactly git's. Only an answer that set decides
 * alone is given: none or one merge base. Several (criss-cross history), a walk past its budget, or a
 * graph that cannot be read give null, and the caller asks git — which then decides which of several
 * bases to print, as it always did.
 *
 * Graph commits are walked by their position in the graph (typed arrays, no object ids), so a walk of
 * tens of thousands of commits — a topic forked long ago from a busy main — stays in milliseconds.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the walk needs to know of a commit the graph does not hold. */
export interface CommitNode {
  parents: string[];
  /** Commit time, seconds since the epoch. */
  date: number;
}

const PARENT_NONE = 0x70000000;
const EXTRA_EDGES = 0x80000000;
const LAST_EDGE = 0x80000000;

interface Layer {
  data: Buffer;
  hashLength: number;
  count: number;
  /** Commits in the layers below this one: its commits' global positions start there. */
  offset: number;
  fanout: number;
  lookup: number;
  commits: number;
  edges: number | null;
  /** Corrected commit date offsets (GDA2) and their overflow (GDO2), when written. */
  generations: number | null;
  overflow: number | null;
}

/**
 * A commit-graph (one file, or a chain of layers) read whole into memory; commits by global
 * position. Parents, generations and dates are decoded once into typed arrays, so a walk reads
 * numbers, not bytes.
 */
export class CommitGraphIndex {
  readonly size: number;

  private constructor(
    private readonly layers: Layer[],
    private readonly d: Decoded,
  ) {
    this.size = d.dates.length;
  }

  /**
   * The graph in `objectDir/info/` (a chain of layers, or one file); null when there is none or it
   * cannot be read as this reader expects (the caller then asks git).
   */
  static load(objectDir: string): CommitGraphIndex | null {
    try {
      const chainDir = join(objectDir, 'info', 'commit-graphs');
      let files: string[];
      try {
        files = readFileSync(join(chainDir, 'commit-graph-chain'), 'utf8').split('\n').filter(Boolean).map((hash) => join(chainDir, `graph-${hash}.graph`));
      } catch {
        files = [join(objectDir, 'info', 'commit-graph')];
      }
      const layers: Layer[] = [];
      for (const file of files) {
        const layer = readLayer(readFileSync(file), layers.reduce((n, l) => n + l.count, 0));
        if (!layer || (layers[0] && layers[0].hashLength !== layer.hashLength)) return null;
        layers.push(layer);
      }
      const decoded = layers.length > 0 ? decode(layers) : null;
      return decoded ? new CommitGraphIndex(layers, decoded) : null;
    } catch {
      return null;
    }
  }

  /** The global position of a commit, or -1 when the graph does not hold it. */
  position(oid: string): number {
    const raw = Buffer.from(oid, 'hex');
    for (let k = this.layers.length - 1; k >= 0; k--) {
      const layer = this.layers[k] as Layer;
      if (raw.length !== layer.hashLength) return -1;
      const i = find(layer, raw);
      if (i !== -1) return layer.offset + i;
    }
    return -1;
  }

  /** The object id at a position the graph gave (its own positions are checked when it is read). */
  oid(position: number): string {
    const layer = this.layers.find((l) => position < l.offset + l.count) as Layer;
    const at = layer.lookup + (position - layer.offset) * layer.hashLength;
    return layer.data.toString('hex', at, at + layer.hashLength);
  }

  /** Calls `each` with the position of every parent, in order. */
  parents(position: number, each: (parent: number) => void): void {
    const p1 = this.d.parent1[position] as number;
    if (p1 === PARENT_NONE) return;
    each(p1);
    const p2 = this.d.parent2[position] as number;
    if (p2 === PARENT_NONE) return;
    if (!(p2 & EXTRA_EDGES)) return each(p2);
    for (const p of this.d.octopus.get(position) ?? []) each(p);
  }

  date(position: number): number {
    return this.d.dates[position] as number;
  }

  generation(position: number): number {
    return this.d.generations[position] as number;
  }
}

interface Decoded {
  /** First and second parent positions (PARENT_NONE when absent; EXTRA_EDGES set: an octopus merge, in `octopus`). */
  parent1: Uint32Array;
  parent2: Uint32Array;
  octopus: Map<number, number[]>;
  generations: Float64Array;
  dates: Float64Array;
}

/**
 * Parents, generations and dates of every commit, decoded once; null when the graph does not hold
 * together (a parent outside it, an octopus merge without its edge list, an overflowing generation
 * without its chunk). Generation numbers are git's for its walk: corrected commit dates when every
 * layer has them (git then uses them too), else topological levels — either is a correct generation
 * number, and git's own order also ends the walk as early as git's does.
 */
function decode(layers: readonly Layer[]): Decoded | null {
  const top = layers[layers.length - 1] as Layer;
  const size = top.offset + top.count;
  const d: Decoded = { parent1: new Uint32Array(size), parent2: new Uint32Array(size), octopus: new Map(), generations: new Float64Array(size), dates: new Float64Array(size) };
  const corrected = layers.every((l) => l.generations !== null);
  const valid = (p: number) => p === PARENT_NONE || p < size;
  for (const layer of layers) {
    const { data, hashLength } = layer;
    for (let i = 0; i < layer.count; i++) {
      const position = layer.offset + i;
      const at = layer.commits + i * (hashLength + 16) + hashLength;
      const [p1, p2] = [data.readUInt32BE(at), data.readUInt32BE(at + 4)];
      const levelAndDateHigh = data.readUInt32BE(at + 8);
      const date = (levelAndDateHigh & 3) * 2 ** 32 + data.readUInt32BE(at + 12);
      const generation = corrected ? correctedDate(layer, i, date) : levelAndDateHigh >>> 2;
      const edges = p2 !== PARENT_NONE && p2 & EXTRA_EDGES ? extraEdges(layer, p2 & ~EXTRA_EDGES) : [];
      if (!valid(p1) || (!(p2 & EXTRA_EDGES) && !valid(p2)) || generation === null || edges === null || !edges.every(valid)) return null;
      d.parent1[position] = p1;
      d.parent2[position] = p2;
      d.dates[position] = date;
      d.generations[position] = generation;
      if (edges.length > 0) d.octopus.set(position, edges);
    }
  }
  return d;
}

/** The second to last parents of an octopus merge, from a layer's extra edge list; null without one. */
function extraEdges(layer: Layer, start: number): number[] | null {
  if (layer.edges === null) return null;
  const parents: number[] = [];
  for (let e = layer.edges + start * 4; ; e += 4) {
    const edge = layer.data.readUInt32BE(e);
    parents.push(edge & ~LAST_EDGE);
    if (edge & LAST_EDGE) return parents;
  }
}

/** The chunks of one graph file this reader needs; null when it is not one. */
function readLayer(data: Buffer, offset: number): Layer | null {
  if (data.length < 8 || data.readUInt32BE(0) !== 0x43475048 /* CGPH */ || data[4] !== 1) return null;
  const hashLength = data[5] === 1 ? 20 : data[5] === 2 ? 32 : 0;
  if (hashLength === 0) return null;
  const chunks = new Map<number, number>();
  for (let i = 0; i < (data[6] as number); i++) chunks.set(data.readUInt32BE(8 + 12 * i), Number(data.readBigUInt64BE(12 + 12 * i)));
  const fanout = chunks.get(0x4f494446); // OIDF
  const lookup = chunks.get(0x4f49444c); // OIDL
  const commits = chunks.get(0x43444154); // CDAT
  if (fanout === undefined || lookup === undefined || commits === undefined) return null;
  const count = data.readUInt32BE(fanout + 255 * 4);
  if (commits + count * (hashLength + 16) > data.length || lookup + count * hashLength > data.length) return null;
  return {
    data,
    hashLength,
    count,
    offset,
    fanout,
    lookup,
    commits,
    edges: chunks.get(0x45444745) /* EDGE */ ?? null,
    generations: chunks.get(0x47444132) /* GDA2 */ ?? null,
    overflow: chunks.get(0x47444f32) /* GDO2 */ ?? null,
  };
}

/** The corrected commit date of a layer's `i`th commit: its date plus the offset git stored; null when that offset is missing. */
function correctedDate(layer: Layer, i: number, date: number): number | null {
  const offset = layer.data.readUInt32BE((layer.generations as number) + 4 * i);
  if (!(offset & 0x80000000)) return date + offset;
  if (layer.overflow === null) return null;
  return date + Number(layer.data.readBigUInt64BE(layer.overflow + 8 * (offset & 0x7fffffff)));
}

/** The index of `raw` in a layer's sorted object ids, or -1. */
function find(layer: Layer, raw: Buffer): number {
  const first = raw[0] as number;
  let lo = first === 0 ? 0 : layer.data.readUInt32BE(layer.fanout + (first - 1) * 4);
  let hi = layer.data.readUInt32BE(layer.fanout + first * 4);
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const at = layer.lookup + mid * layer.hashLength;
    const c = layer.data.compare(raw, 0, raw.length, at, at + layer.hashLength);
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

const PARENT1 = 1;
const PARENT2 = 2;
const STALE = 4;
const RESULT = 8;

/** Reads commits the graph does not hold; null for one that does not exist. */
export type ReadCommits = (oids: readonly string[]) => Promise<(CommitNode | null)[]>;

/**
 * The best common ancestors of `one` and `two` (git's merge bases before it picks one to print), or
 * null when this walk does not decide: a commit that cannot be read, or more than `budget` commits
 * read outside the graph.
 *
 * Commits are walked by id: a graph position, or (from `graph.size` on) the index of a commit read
 * from git. Flags and queue counts live in typed arrays by id; the queue is git's priority queue —
 * higher generation first, then later date — in which a commit can appear several times, its flags
 * shared by every entry. git scans that queue for one that is not stale after every step; here the
 * count of such entries is kept as flags change.
 */
export async function bestCommonAncestors(one: string, two: string, graph: CommitGraphIndex, read: ReadCommits, budget = 256): Promise<string[] | null> {
  if (one === two) return [one];
  const base = graph.size;
  const flags = new Uint8Array(base + budget + 2);
  const queued = new Int32Array(base + budget + 2);
  const outside: { oid: string; node: CommitNode }[] = [];
  const outsideIds = new Map<string, number>();

  /** Ids for `oids`, reading the ones the graph does not hold; null when one cannot be read or the budget is spent. */
  const ids = async (oids: readonly string[]): Promise<number[] | null> => {
    const found = oids.map((oid) => outsideIds.get(oid) ?? graph.position(oid));
    const missing = oids.filter((_, i) => found[i] === -1);
    if (missing.length === 0) return found;
    if (outside.length + missing.length > budget) return null;
    const nodes = await read(missing);
    for (const [i, oid] of missing.entries()) {
      const node = nodes[i];
      if (!node) return null;
      outsideIds.set(oid, base + outside.length);
      outside.push({ oid, node });
    }
    return oids.map((oid) => outsideIds.get(oid) ?? graph.position(oid));
  };
  const generation = (id: number) => (id < base ? graph.generation(id) : Infinity);
  const date = (id: number) => (id < base ? graph.date(id) : (outside[id - base] as { node: CommitNode }).node.date);

  // The priority queue, as parallel arrays of ids and their keys.
  const heap: number[] = [];
  const gens: number[] = [];
  const dates: number[] = [];
  let nonStale = 0;
  const before = (i: number, j: number) => (gens[i] as number) > (gens[j] as number) || (gens[i] === gens[j] && (dates[i] as number) > (dates[j] as number));
  const swap = (i: number, j: number) => {
    [heap[i], heap[j]] = [heap[j] as number, heap[i] as number];
    [gens[i], gens[j]] = [gens[j] as number, gens[i] as number];
    [dates[i], dates[j]] = [dates[j] as number, dates[i] as number];
  };
  const push = (id: number) => {
    queued[id] = (queued[id] as number) + 1;
    if (!((flags[id] as number) & STALE)) nonStale++;
    heap.push(id);
    gens.push(generation(id));
    dates.push(date(id));
    for (let i = heap.length - 1; i > 0 && before(i, (i - 1) >> 1); i = (i - 1) >> 1) swap(i, (i - 1) >> 1);
  };
  const pop = (): number => {
    const top = heap[0] as number;
    queued[top] = (queued[top] as number) - 1;
    if (!((flags[top] as number) & STALE)) nonStale--;
    const last = heap.length - 1;
    swap(0, last);
    heap.pop();
    gens.pop();
    dates.pop();
    for (let i = 0; ; ) {
      const [l, r] = [2 * i + 1, 2 * i + 2];
      let best = i;
      if (l < heap.length && before(l, best)) best = l;
      if (r < heap.length && before(r, best)) best = r;
      if (best === i) break;
      swap(i, best);
      i = best;
    }
    return top;
  };

  const start = await ids([one, two]);
  if (!start) return null;
  const [a, b] = start as [number, number];
  flags[a] = PARENT1;
  flags[b] = PARENT2;
  push(a);
  push(b);
  const results: number[] = [];
  while (nonStale > 0) {
    const commit = pop();
    let paint = (flags[commit] as number) & (PARENT1 | PARENT2 | STALE);
    if (paint === (PARENT1 | PARENT2)) {
      if (!((flags[commit] as number) & RESULT)) {
        flags[commit] = (flags[commit] as number) | RESULT;
        results.push(commit);
      }
      // The parents of a merge base are stale: nothing below it can be a better one.
      paint |= STALE;
    }
    let parents: number[];
    if (commit < base) {
      parents = [];
      graph.parents(commit, (p) => parents.push(p));
    } else {
      const found = await ids((outside[commit - base] as { node: CommitNode }).node.parents);
      if (!found) return null;
      parents = found;
    }
    for (const p of parents) {
      const had = flags[p] as number;
      if ((had & paint) === paint) continue;
      // A queued commit that becomes stale no longer keeps the walk going.
      if (paint & STALE && !(had & STALE)) nonStale -= queued[p] as number;
      flags[p] = had | paint;
      push(p);
    }
  }
  return results.filter((id) => !((flags[id] as number) & STALE)).map((id) => (id < base ? graph.oid(id) : (outside[id - base] as { oid: string }).oid));
}
