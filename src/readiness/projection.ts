/**
 * The readiness projection: which event conditions (1–3 and 5 of the contract) hold for each
 * candidate. Pure and incremental: applying one event touches a constant number of table entries,
 * whatever the history. Memory follows what can still change, not the history:
 *
 * - per slug, one compact record of its newest finalize_ready (its head): a hash of the candidate,
 *   ready_at in ms, the log position of its line, and whether it still waits — 36 bytes in columns
 *   of typed arrays, no objects;
 * - a waiting head (its event conditions not all met yet; it may wait for days) keeps the strings it
 *   will be enqueued with (slug, branch, sha as bytes, ready_at unless it is the canonical form) in a
 *   byte arena: about a hundred bytes;
 * - approvals (of a slug, or of one sha of a slug), pushes, finalized and decided candidates, and the
 *   ids of events that changed something are 64-bit hashes in compact sets (decided and superseded
 *   candidates shrink to 8 bytes);
 * - per slug, the head's readiness episode (1, then +1 per accepted retry) and when its current
 *   episode was decided: a retry counts only for a decision made before it was requested.
 *
 * Nothing is kept per event: applying an event again changes nothing (approvals and pushes are sets,
 * a candidate is finalized once, supersession is final), so a duplicate needs no key of its own. An
 * event's id is recorded only when the event changed something, so that another event under the
 * same id (the producer's idempotency key) is refused.
 *
 * Retry rules (a retry_requested names a slug, and optionally the sha it means). It starts a new
 * episode of the slug's current candidate — one more decision — only when that candidate was decided
 * in its current episode before the retry was requested. Otherwise it changes nothing, and the effect
 * says why: the slug has no candidate, the sha is not the current candidate's (a superseded candidate
 * is never retried: supersession is final), the candidate still waits for events, it is not decided
 * in its current episode yet (queued or in progress), or it was decided after the retry was
 * requested (the retry was meant for an earlier decision, or is a duplicate of the one that started
 * this episode). So reading the log again — a restart, a takeover, a replaced log — never starts an
 * episode twice: the episode it started is not decided before that same request. Decided candidates
 * are keyed (slug, branch, sha, episode), the ledger's authority.
 */
import { errors } from '../contract/errors.js';
import type { CandidateRef, ReadinessEvent } from '../contract/types.generated.js';
import { hashParts, HashIndex, KeySet, type Hash64, type Hash64Ref } from './keyset.js';

export interface Candidate {
  slug: string;
  branch: string;
  sha: string;
  ready_at: string;
  /** Log position of the candidate's finalize_ready line: the FIFO tie-break. */
  log_offset: number;
}

export type { CandidateRef };

/** The retry that started an episode. */
export interface RetryRef {
  requested_by: string;
  requested_at: string;
  id: string | null;
}

/** Why a retry_requested changed nothing (see the file comment). */
export type RetryIgnored = 'no_candidate' | 'other_sha' | 'waiting' | 'undecided' | 'decided_after_request' | 'unreadable';

export type Effect =
  /**
   * The event conditions went from not met to met, or an accepted retry started a new episode of a
   * decided candidate: enqueue (unless decided or already queued).
   */
  | { kind: 'ready'; candidate: Candidate; ready_ms: number; episode: number; retry?: RetryRef }
  /** A retry_requested that changed nothing, and why; `current` is the slug's candidate (null: none, or unreadable). */
  | { kind: 'retry_ignored'; slug: string; sha: string | null; why: RetryIgnored; current: CandidateRef | null; episode: number }
  /**
   * A newer finalize_ready replaced the slug's head: a queued candidate of the slug leaves the queue.
   * `previous` is the old head when it was still waiting (an enqueued one is the queue's live item).
   */
  | { kind: 'superseded'; slug: string; previous: CandidateRef | null; by: Candidate; wasReady: boolean }
  /** The finalize_ready arrived already older than the slug's head: superseded at once, never enqueued. */
  | { kind: 'stale'; candidate: Candidate; by: CandidateRef | null };

/**
 * `noop`: it changed nothing (seen before, or another remote); `duplicate`: its id was already used by
 * an event that changed something; `unusable`: a value the projection computes with cannot be used
 * (a time Date cannot represent): nothing was applied, the line is quarantined.
 */
export type Applied = 'applied' | 'noop' | 'duplicate' | 'unusable';

/** Reads the finalize_ready at a log position back (the strings of a head that no longer waits). */
export type LineAt = (position: number) => ReadinessEvent | null;

const GROW = 2;
const NO_WAIT = -1;

/** Per-slug records, column-wise. */
class Slugs {
  n = 0;
  slugHi: Uint32Array;
  slugLo: Uint32Array;
  headHi: Uint32Array;
  headLo: Uint32Array;
  readyMs: Float64Array;
  headPos: Float64Array;
  wait: Int32Array;
  /** The head's readiness episode. */
  episode: Uint32Array;
  /** When the head's current episode was decided (ms); NaN while it is not. */
  decidedMs: Float64Array;
  private readonly ref: Hash64Ref = { hi: 0, lo: 0 };
  readonly index: HashIndex;

  constructor(capacity: number) {
    this.slugHi = new Uint32Array(capacity);
    this.slugLo = new Uint32Array(capacity);
    this.headHi = new Uint32Array(capacity);
    this.headLo = new Uint32Array(capacity);
    this.readyMs = new Float64Array(capacity);
    this.headPos = new Float64Array(capacity);
    this.wait = new Int32Array(capacity);
    this.episode = new Uint32Array(capacity);
    this.decidedMs = new Float64Array(capacity);
    this.index = new HashIndex((r) => {
      this.ref.hi = this.slugHi[r] as number;
      this.ref.lo = this.slugLo[r] as number;
      return this.ref;
    }, capacity);
  }

  find(h: Hash64): number {
    return this.index.get(h[0], h[1]);
  }

  add(h: Hash64): number {
    if (this.n === this.slugHi.length) this.grow();
    const r = this.n++;
    this.slugHi[r] = h[0];
    this.slugLo[r] = h[1];
    this.wait[r] = NO_WAIT;
    this.index.add(r);
    return r;
  }

  static from(x: ProjectionSections): Slugs {
    const n = x.slugHi.length;
    const s = new Slugs(Math.max(1024, Math.ceil(n * 1.25)));
    s.slugHi.set(x.slugHi);
    s.slugLo.set(x.slugLo);
    s.headHi.set(x.headHi);
    s.headLo.set(x.headLo);
    s.readyMs.set(x.readyMs);
    s.headPos.set(x.headPos);
    s.wait.set(x.wait);
    s.episode.set(x.episode);
    s.decidedMs.set(x.decidedMs);
    s.n = n;
    for (let r = 0; r < n; r++) s.index.add(r);
    return s;
  }

  private grow(): void {
    const cap = Math.max(1024, this.slugHi.length * GROW);
    this.slugHi = resized(this.slugHi, cap);
    this.slugLo = resized(this.slugLo, cap);
    this.headHi = resized(this.headHi, cap);
    this.headLo = resized(this.headLo, cap);
    this.readyMs = resized(this.readyMs, cap);
    this.headPos = resized(this.headPos, cap);
    this.wait = resized(this.wait, cap);
    this.episode = resized(this.episode, cap);
    this.decidedMs = resized(this.decidedMs, cap);
  }
}

/** Waiting heads, column-wise, with a free list; their strings live in an arena of bytes. */
class Waiting {
  n = 0;
  live = 0;
  refHi: Uint32Array;
  refLo: Uint32Array;
  slug: Uint32Array;
  strOff: Uint32Array;
  strLen: Uint32Array;
  private free: number[] = [];
  arena: Buffer;
  arenaUsed = 0;
  private arenaLive = 0;
  private readonly ref: Hash64Ref = { hi: 0, lo: 0 };
  /** Every waiting head by (branch, sha): a push touches only these. */
  readonly byRef: HashIndex;

  constructor(capacity: number, arenaBytes: number) {
    this.refHi = new Uint32Array(capacity);
    this.refLo = new Uint32Array(capacity);
    this.slug = new Uint32Array(capacity);
    this.strOff = new Uint32Array(capacity);
    this.strLen = new Uint32Array(capacity);
    this.arena = Buffer.alloc(Math.max(4096, arenaBytes));
    this.byRef = new HashIndex((w) => {
      this.ref.hi = this.refHi[w] as number;
      this.ref.lo = this.refLo[w] as number;
      return this.ref;
    }, capacity);
  }

  static from(x: ProjectionSections): Waiting {
    const m = x.waitRefHi.length;
    const w = new Waiting(Math.max(1024, Math.ceil(m * 1.25)), Math.ceil(x.arena.length * 1.25));
    w.refHi.set(x.waitRefHi);
    w.refLo.set(x.waitRefLo);
    w.slug.set(x.waitSlug);
    w.strOff.set(x.waitOff);
    w.strLen.set(x.waitLen);
    w.arena.set(x.arena);
    w.arenaUsed = x.arena.length;
    w.arenaLive = x.arena.length;
    w.n = m;
    w.live = m;
    for (let i = 0; i < m; i++) w.byRef.add(i);
    return w;
  }

  add(ref: Hash64, slug: number, c: Candidate): number {
    let w = this.free.pop();
    if (w === undefined) {
      if (this.n === this.refHi.length) this.grow();
      w = this.n++;
    }
    this.refHi[w] = ref[0];
    this.refLo[w] = ref[1];
    this.slug[w] = slug;
    this.store(w, c);
    this.byRef.add(w);
    this.live += 1;
    return w;
  }

  remove(w: number): void {
    this.byRef.remove(w);
    this.arenaLive -= this.strLen[w] as number;
    this.strLen[w] = 0;
    this.free.push(w);
    this.live -= 1;
  }

  strings(w: number): Buffer {
    const off = this.strOff[w] as number;
    return this.arena.subarray(off, off + (this.strLen[w] as number));
  }

  /** Whether the waiting head's sha is `sha` (compared as bytes, where it is kept). */
  shaIs(w: number, sha: string): boolean {
    const off = this.strOff[w] as number;
    const len = this.arena[off] as number;
    return len * 2 === sha.length && this.arena.subarray(off + 1, off + 1 + len).equals(Buffer.from(sha, 'hex'));
  }

  /**
   * A waiting head's strings, written straight into the arena: the sha as bytes (its length first),
   * then slug, branch and — unless it is exactly what toISOString gives for its ms — ready_at,
   * NUL-separated.
   */
  private store(w: number, c: Candidate): void {
    const readyAt = isCanonicalTime(c.ready_at) ? '' : c.ready_at;
    const text = `${c.slug}\0${c.branch}\0${readyAt}`;
    const shaBytes = c.sha.length / 2;
    const len = 1 + shaBytes + Buffer.byteLength(text);
    if (this.arenaUsed + len > this.arena.length) this.compactOrGrow(len);
    const at = this.arenaUsed;
    this.arena[at] = shaBytes;
    this.arena.write(c.sha, at + 1, 'hex');
    this.arena.write(text, at + 1 + shaBytes, 'utf8');
    this.strOff[w] = at;
    this.strLen[w] = len;
    this.arenaUsed += len;
    this.arenaLive += len;
  }

  /** Strings of heads that stopped waiting are garbage: copied out once they outweigh the live ones. */
  private compactOrGrow(need: number): void {
    const size = this.arenaLive * 2 + need > this.arena.length ? Math.max(this.arena.length * GROW, this.arenaLive * 2 + need) : this.arena.length;
    const next = Buffer.alloc(size);
    let used = 0;
    for (let w = 0; w < this.n; w++) {
      const len = this.strLen[w] as number;
      if (len === 0) continue;
      this.arena.copy(next, used, this.strOff[w], (this.strOff[w] as number) + len);
      this.strOff[w] = used;
      used += len;
    }
    this.arena = next;
    this.arenaUsed = used;
  }

  private grow(): void {
    const cap = Math.max(1024, this.refHi.length * GROW);
    this.refHi = resized(this.refHi, cap);
    this.refLo = resized(this.refLo, cap);
    this.slug = resized(this.slug, cap);
    this.strOff = resized(this.strOff, cap);
    this.strLen = resized(this.strLen, cap);
  }
}

function resized<T extends Uint32Array | Int32Array | Float64Array>(a: T, cap: number): T {
  const next = new (a.constructor as new (n: number) => T)(cap);
  next.set(a.subarray(0, Math.min(a.length, cap)));
  return next;
}

/**
 * Whether a validated ISO 8601 time is in toISOString's own form (YYYY-MM-DDTHH:MM:SS.sssZ), so that
 * it can be rebuilt from its ms. The schema already checked it is a real date and time.
 */
const isCanonicalTime = (t: string) => t.length === 24 && t.charCodeAt(10) === 84 /* T */ && t.charCodeAt(19) === 46 /* . */ && t.charCodeAt(23) === 90; /* Z */

function unpackStrings(buf: Buffer, readyMs: number, logPos: number): Candidate {
  const shaLen = buf[0] as number;
  const sha = buf.toString('hex', 1, 1 + shaLen);
  const [slug = '', branch = '', readyAt = ''] = buf.toString('utf8', 1 + shaLen).split('\0');
  return { slug, branch, sha, ready_at: readyAt === '' ? new Date(readyMs).toISOString() : readyAt, log_offset: logPos };
}

/** A candidate's key: its slug's hash and its (branch, sha)'s hash mixed, so that no third pass over its strings is needed. */
function candidateHash(slugH: Hash64, refH: Hash64): Hash64 {
  let hi = Math.imul(slugH[0] ^ Math.imul(refH[1], 0x9e3779b1), 0x85ebca6b);
  let lo = Math.imul(slugH[1] ^ Math.imul(refH[0], 0xc2b2ae35), 0x27d4eb2f);
  hi ^= hi >>> 15;
  lo ^= lo >>> 13;
  hi = (hi ^ refH[0]) >>> 0;
  lo = (lo ^ refH[1] ^ slugH[0]) >>> 0;
  return hi === 0 && lo === 0 ? [0, 1] : [hi, lo];
}

const keyOf = (c: CandidateRef): Hash64 => candidateHash(hashParts(c.slug), hashParts(c.branch, c.sha));

/** A decided candidate's key: (slug, branch, sha, episode); episode 1's is the candidate's own (the key before episodes existed). */
function episodeKey(k: Hash64, episode: number): Hash64 {
  if (episode <= 1) return k;
  const hi = (Math.imul(k[0] ^ episode, 0x9e3779b1) ^ k[1]) >>> 0;
  const lo = (Math.imul(k[1] ^ Math.imul(episode, 0x85ebca6b), 0xc2b2ae35) ^ k[0]) >>> 0;
  return hi === 0 && lo === 0 ? [0, 1] : [hi, lo];
}

/** An approval of one sha of a slug. */
const shaApprovalKey = (slugH: Hash64, sha: string): Hash64 => candidateHash(slugH, hashParts(sha));

/** A decided candidate as markDecided reads it: an outcome, or anything with its episode and decision time. */
export type DecidedRef = CandidateRef & { episode?: number; decided_at?: string };

/** A head whose event conditions are not all met yet, and what it still lacks. */
export interface WaitingCandidate {
  candidate: Candidate;
  ready_ms: number;
  /** No approval of the slug, nor of this sha. */
  missing_review_approved: boolean;
  /** No branch_pushed of (branch, sha) to the remote. */
  missing_branch_pushed: boolean;
  /** The slug has an approval, but bound to another sha. */
  approved_other_sha: boolean;
}

export interface ProjectionSizes {
  /** Slugs with a head. */
  slugs: number;
  /** Heads whose event conditions are not all met yet. */
  waiting: number;
  approved: number;
  approvedSha: number;
  pushed: number;
  finalized: number;
  decided: number;
  ids: number;
}

/** The projection as sections of typed arrays: what a snapshot file holds. */
export interface ProjectionSections {
  approved: Uint32Array;
  approvedSha: Uint32Array;
  shaBound: Uint32Array;
  pushed: Uint32Array;
  finalized: Uint32Array;
  decided: Uint32Array;
  ids: Uint32Array;
  slugHi: Uint32Array;
  slugLo: Uint32Array;
  headHi: Uint32Array;
  headLo: Uint32Array;
  readyMs: Float64Array;
  headPos: Float64Array;
  wait: Int32Array;
  episode: Uint32Array;
  decidedMs: Float64Array;
  waitRefHi: Uint32Array;
  waitRefLo: Uint32Array;
  waitSlug: Uint32Array;
  waitOff: Uint32Array;
  waitLen: Uint32Array;
  arena: Uint8Array;
}

export class Projection {
  private lineAt: LineAt = () => null;
  /**
   * Decisions read from the ledger before their slug was seen (the journal was lost: the ledger is
   * read, then the whole log): their episode and decision time, taken by the candidate when its
   * finalize_ready makes it a head. Empty in every other case; never snapshotted.
   */
  private readonly early = new Map<string, { episode: number; decidedMs: number }>();

  private constructor(
    readonly remote: string,
    private readonly approved: KeySet,
    /** Approvals of one sha of a slug, keyed (slug, sha). */
    private readonly approvedSha: KeySet,
    /** Slugs with an approval of some sha: "approved, but another sha" for status. */
    private readonly shaBound: KeySet,
    private readonly pushed: KeySet,
    private readonly finalized: KeySet,
    private readonly decided: KeySet,
    private readonly ids: KeySet,
    private readonly slugs: Slugs,
    private readonly waiting: Waiting,
  ) {}

  static empty(remote: string): Projection {
    return new Projection(remote, new KeySet(), new KeySet(), new KeySet(), new KeySet(), new KeySet(), new KeySet(), new KeySet(), new Slugs(1024), new Waiting(1024, 64 * 1024));
  }

  /** How heads that no longer wait are read back when their strings are needed (rare: the session reads the log). */
  readBackWith(lineAt: LineAt): void {
    this.lineAt = lineAt;
  }

  get sizes(): ProjectionSizes {
    return {
      slugs: this.slugs.n,
      waiting: this.waiting.live,
      approved: this.approved.size,
      approvedSha: this.approvedSha.size,
      pushed: this.pushed.size,
      finalized: this.finalized.size,
      decided: this.decided.size,
      ids: this.ids.size,
    };
  }

  /**
   * Applies one event at its log position, pushing what it caused onto `effects` (a sink rather than
   * a returned array: this runs for every line of the log).
   */
  apply(event: ReadinessEvent, position: number, effects: Effect[]): Applied {
    switch (event.type) {
      case 'review_approved': {
        const slugH = hashParts(event.slug);
        if (event.sha !== undefined) return this.onShaApproved(slugH, event.sha, event.id, effects);
        if (this.approved.has(slugH)) return 'noop';
        if (!this.firstUseOf(event.id)) return 'duplicate';
        this.approved.add(slugH);
        const r = this.slugs.find(slugH);
        const w = r === -1 ? NO_WAIT : (this.slugs.wait[r] as number);
        if (w !== NO_WAIT && this.pushed.has([this.waiting.refHi[w] as number, this.waiting.refLo[w] as number])) this.promote(r, w, effects);
        return 'applied';
      }
      case 'branch_pushed': {
        if (event.remote !== this.remote) return 'noop';
        const ref = hashParts(event.branch, event.sha);
        if (this.pushed.has(ref)) return 'noop';
        if (!this.firstUseOf(event.id)) return 'duplicate';
        this.pushed.add(ref);
        this.waiting.byRef.forEach(ref[0], ref[1], (w) => {
          const r = this.waiting.slug[w] as number;
          if (this.isApproved([this.slugs.slugHi[r] as number, this.slugs.slugLo[r] as number], event.sha)) this.promote(r, w, effects);
        });
        return 'applied';
      }
      case 'finalize_ready':
        return this.onFinalized(event, position, effects);
      case 'retry_requested':
        return this.onRetry(event, effects);
    }
  }

  /** Approved for this sha: by an approval of the slug, or of exactly this sha. */
  private isApproved(slugH: Hash64, sha: string): boolean {
    return this.approved.has(slugH) || this.approvedSha.has(shaApprovalKey(slugH, sha));
  }

  /** An approval bound to one sha: only a head with that sha becomes ready by it. */
  private onShaApproved(slugH: Hash64, sha: string, id: string | undefined, effects: Effect[]): Applied {
    const key = shaApprovalKey(slugH, sha);
    if (this.approvedSha.has(key)) return 'noop';
    if (!this.firstUseOf(id)) return 'duplicate';
    this.approvedSha.add(key);
    this.shaBound.add(slugH);
    const r = this.slugs.find(slugH);
    const w = r === -1 ? NO_WAIT : (this.slugs.wait[r] as number);
    if (w !== NO_WAIT && this.waiting.shaIs(w, sha) && this.pushed.has([this.waiting.refHi[w] as number, this.waiting.refLo[w] as number])) this.promote(r, w, effects);
    return 'applied';
  }

  /** A retry: a new episode of the slug's decided head, or nothing and why (see the file comment). */
  private onRetry(e: Extract<ReadinessEvent, { type: 'retry_requested' }>, effects: Effect[]): Applied {
    const requestedMs = Date.parse(e.requested_at);
    if (!Number.isFinite(requestedMs)) return 'unusable';
    const r = this.slugs.find(hashParts(e.slug));
    const head = r === -1 ? null : this.headCandidate(r);
    const ignore = (why: RetryIgnored): Applied => {
      effects.push({ kind: 'retry_ignored', slug: e.slug, sha: e.sha ?? null, why, current: head && refOf(head), episode: r === -1 ? 0 : (this.slugs.episode[r] as number) });
      return 'noop';
    };
    if (r === -1) return ignore('no_candidate');
    if (!head) return ignore('unreadable');
    if (e.sha !== undefined && e.sha !== head.sha) return ignore('other_sha');
    if ((this.slugs.wait[r] as number) !== NO_WAIT) return ignore('waiting');
    const decidedMs = this.slugs.decidedMs[r] as number;
    if (Number.isNaN(decidedMs)) return ignore('undecided');
    if (decidedMs >= requestedMs) return ignore('decided_after_request');
    if (!this.firstUseOf(e.id)) return 'duplicate';
    const episode = (this.slugs.episode[r] as number) + 1;
    this.slugs.episode[r] = episode;
    this.slugs.decidedMs[r] = NaN;
    effects.push({ kind: 'ready', candidate: head, ready_ms: this.slugs.readyMs[r] as number, episode, retry: { requested_by: e.requested_by, requested_at: e.requested_at, id: e.id ?? null } });
    return 'applied';
  }

  /** Records the id of an event that changes something; false when another such event used it. */
  private firstUseOf(id: string | undefined): boolean {
    return id === undefined || this.ids.add(hashParts('id', id));
  }

  private onFinalized(e: Extract<ReadinessEvent, { type: 'finalize_ready' }>, position: number, effects: Effect[]): Applied {
    // Checked before anything changes: a ready_at that is not a finite time would poison every comparison.
    const readyMs = Date.parse(e.ready_at);
    if (!Number.isFinite(readyMs)) return 'unusable';
    const slugH = hashParts(e.slug);
    const ref = hashParts(e.branch, e.sha);
    const key = candidateHash(slugH, ref);
    if (this.finalized.has(key)) return 'noop';
    if (!this.firstUseOf(e.id)) return 'duplicate';
    this.finalized.add(key);
    const candidate: Candidate = { slug: e.slug, branch: e.branch, sha: e.sha, ready_at: e.ready_at, log_offset: position };
    let r = this.slugs.find(slugH);
    if (r !== -1) {
      // Equal ready_at: the one later in the log wins, and the event being applied is the later one.
      if (readyMs < (this.slugs.readyMs[r] as number)) {
        effects.push({ kind: 'stale', candidate, by: this.headOf(r) });
        return 'applied';
      }
      const w = this.slugs.wait[r] as number;
      const previous = w === NO_WAIT ? null : refOf(unpackStrings(this.waiting.strings(w), 0, 0));
      if (w !== NO_WAIT) this.waiting.remove(w);
      effects.push({ kind: 'superseded', slug: e.slug, previous, by: candidate, wasReady: w === NO_WAIT });
    } else {
      r = this.slugs.add(slugH);
    }
    this.slugs.headHi[r] = ref[0];
    this.slugs.headLo[r] = ref[1];
    this.slugs.readyMs[r] = readyMs;
    this.slugs.headPos[r] = position;
    const early = this.early.size === 0 ? undefined : this.early.get(`${key[0]}:${key[1]}`);
    this.early.delete(`${key[0]}:${key[1]}`);
    this.slugs.episode[r] = early?.episode ?? 1;
    this.slugs.decidedMs[r] = early?.decidedMs ?? NaN;
    const w = this.waiting.add(ref, r, candidate);
    this.slugs.wait[r] = w;
    if (this.isApproved(slugH, e.sha) && this.pushed.has(ref)) this.promote(r, w, effects);
    return 'applied';
  }

  /** A waiting head whose event conditions all hold: ready, and no longer waiting. */
  private promote(r: number, w: number, effects: Effect[]): void {
    const candidate = unpackStrings(this.waiting.strings(w), this.slugs.readyMs[r] as number, this.slugs.headPos[r] as number);
    this.waiting.remove(w);
    this.slugs.wait[r] = NO_WAIT;
    effects.push({ kind: 'ready', candidate, ready_ms: this.slugs.readyMs[r] as number, episode: this.slugs.episode[r] as number });
  }

  /** The head of a slug record as strings: from the arena while it waits, else read back from the log. */
  private headOf(r: number): CandidateRef | null {
    const c = this.headCandidate(r);
    return c && refOf(c);
  }

  private headCandidate(r: number): Candidate | null {
    const w = this.slugs.wait[r] as number;
    const pos = this.slugs.headPos[r] as number;
    if (w !== NO_WAIT) return unpackStrings(this.waiting.strings(w), this.slugs.readyMs[r] as number, pos);
    const e = this.lineAt(pos);
    if (e?.type !== 'finalize_ready') return null;
    const h = hashParts(e.branch, e.sha);
    return h[0] === this.slugs.headHi[r] && h[1] === this.slugs.headLo[r] ? { slug: e.slug, branch: e.branch, sha: e.sha, ready_at: e.ready_at, log_offset: pos } : null;
  }

  /** The slug record whose head is this candidate, or -1. */
  private headRecord(c: CandidateRef): number {
    const r = this.slugs.find(hashParts(c.slug));
    if (r === -1) return -1;
    const ref = hashParts(c.branch, c.sha);
    return this.slugs.headHi[r] === ref[0] && this.slugs.headLo[r] === ref[1] ? r : -1;
  }

  /**
   * A decision of the ledger: decided in its episode (1 for outcomes written before episodes). For
   * the slug's head it also records the episode (a replay from an older snapshot may not have seen
   * the retry that started it) and when the episode was decided.
   */
  markDecided(c: DecidedRef): void {
    const episode = c.episode ?? 1;
    const k = keyOf(c);
    this.decided.add(episodeKey(k, episode));
    const decidedMs = c.decided_at === undefined ? NaN : Date.parse(c.decided_at);
    if (this.slugs.find(hashParts(c.slug)) === -1) {
      const known = this.early.get(`${k[0]}:${k[1]}`);
      if (!known || episode > known.episode) this.early.set(`${k[0]}:${k[1]}`, { episode, decidedMs });
      else if (episode === known.episode) known.decidedMs = decidedMs;
      return;
    }
    const r = this.headRecord(c);
    if (r === -1) return;
    this.raiseEpisode(r, episode);
    if (episode === this.slugs.episode[r] && c.decided_at !== undefined) this.slugs.decidedMs[r] = decidedMs;
  }

  /** A live queue item's episode: the head is in that episode at least (undecided in it). */
  noteQueued(c: CandidateRef & { episode?: number }): void {
    const r = this.headRecord(c);
    if (r !== -1) this.raiseEpisode(r, c.episode ?? 1);
  }

  private raiseEpisode(r: number, episode: number): void {
    if (episode <= (this.slugs.episode[r] as number)) return;
    this.slugs.episode[r] = episode;
    this.slugs.decidedMs[r] = NaN;
  }

  isDecided(c: CandidateRef & { episode?: number }): boolean {
    return this.decided.has(episodeKey(keyOf(c), c.episode ?? 1));
  }

  /** The slug head's current episode (0: no such head). */
  episodeOf(c: CandidateRef): number {
    const r = this.headRecord(c);
    return r === -1 ? 0 : (this.slugs.episode[r] as number);
  }

  /** Every head still waiting for events, oldest ready_at first (at most `limit`), and what each lacks. */
  waitingCandidates(limit = Infinity): { total: number; candidates: WaitingCandidate[] } {
    const rows: number[] = [];
    for (let r = 0; r < this.slugs.n; r++) if ((this.slugs.wait[r] as number) !== NO_WAIT) rows.push(r);
    const ms = this.slugs.readyMs;
    const pos = this.slugs.headPos;
    rows.sort((a, b) => (ms[a] as number) - (ms[b] as number) || (pos[a] as number) - (pos[b] as number));
    const candidates = rows.slice(0, limit).map((r): WaitingCandidate => {
      const w = this.slugs.wait[r] as number;
      const slugH: Hash64 = [this.slugs.slugHi[r] as number, this.slugs.slugLo[r] as number];
      const candidate = unpackStrings(this.waiting.strings(w), ms[r] as number, pos[r] as number);
      const approved = this.isApproved(slugH, candidate.sha);
      return {
        candidate,
        ready_ms: ms[r] as number,
        missing_review_approved: !approved,
        missing_branch_pushed: !this.pushed.has([this.waiting.refHi[w] as number, this.waiting.refLo[w] as number]),
        approved_other_sha: !approved && this.shaBound.has(slugH),
      };
    });
    return { total: rows.length, candidates };
  }

  /**
   * Event conditions of a candidate as they stand, for the re-check at dequeue. `superseded_by` is
   * the slug's newer head, or `unknown` when it is newer but its strings cannot be read back.
   */
  conditions(c: CandidateRef): { review_approved: boolean; finalize_ready: boolean; branch_pushed: boolean; superseded_by: CandidateRef | 'unknown' | null } {
    const slugH = hashParts(c.slug);
    const ref = hashParts(c.branch, c.sha);
    const finalized = this.finalized.has(candidateHash(slugH, ref));
    const r = this.slugs.find(slugH);
    const isHead = r !== -1 && this.slugs.headHi[r] === ref[0] && this.slugs.headLo[r] === ref[1];
    return {
      review_approved: this.isApproved(slugH, c.sha),
      finalize_ready: finalized,
      branch_pushed: this.pushed.has(ref),
      superseded_by: finalized && r !== -1 && !isHead ? (this.headOf(r) ?? 'unknown') : null,
    };
  }

  /** The state as typed-array sections (waiting heads renumbered densely, their arena compacted). */
  sections(): ProjectionSections {
    const s = this.slugs;
    const w = this.waiting;
    const renumber = new Int32Array(w.n).fill(NO_WAIT);
    let live = 0;
    let arenaBytes = 0;
    for (let i = 0; i < w.n; i++) {
      if ((w.strLen[i] as number) === 0) continue;
      renumber[i] = live++;
      arenaBytes += w.strLen[i] as number;
    }
    const out = {
      waitRefHi: new Uint32Array(live),
      waitRefLo: new Uint32Array(live),
      waitSlug: new Uint32Array(live),
      waitOff: new Uint32Array(live),
      waitLen: new Uint32Array(live),
      arena: new Uint8Array(arenaBytes),
    };
    let off = 0;
    for (let i = 0; i < w.n; i++) {
      const j = renumber[i] as number;
      if (j === NO_WAIT) continue;
      out.waitRefHi[j] = w.refHi[i] as number;
      out.waitRefLo[j] = w.refLo[i] as number;
      out.waitSlug[j] = w.slug[i] as number;
      out.waitOff[j] = off;
      out.waitLen[j] = w.strLen[i] as number;
      out.arena.set(w.strings(i), off);
      off += w.strLen[i] as number;
    }
    const wait = s.wait.slice(0, s.n);
    for (let r = 0; r < s.n; r++) if ((wait[r] as number) !== NO_WAIT) wait[r] = renumber[wait[r] as number] as number;
    return {
      approved: this.approved.members(),
      approvedSha: this.approvedSha.members(),
      shaBound: this.shaBound.members(),
      pushed: this.pushed.members(),
      finalized: this.finalized.members(),
      decided: this.decided.members(),
      ids: this.ids.members(),
      slugHi: s.slugHi.slice(0, s.n),
      slugLo: s.slugLo.slice(0, s.n),
      headHi: s.headHi.slice(0, s.n),
      headLo: s.headLo.slice(0, s.n),
      readyMs: s.readyMs.slice(0, s.n),
      headPos: s.headPos.slice(0, s.n),
      wait,
      episode: s.episode.slice(0, s.n),
      decidedMs: s.decidedMs.slice(0, s.n),
      ...out,
    };
  }

  static restore(remote: string, x: ProjectionSections): Projection {
    return new Projection(
      remote,
      KeySet.fromMembers(x.approved),
      KeySet.fromMembers(x.approvedSha),
      KeySet.fromMembers(x.shaBound),
      KeySet.fromMembers(x.pushed),
      KeySet.fromMembers(x.finalized),
      KeySet.fromMembers(x.decided),
      KeySet.fromMembers(x.ids),
      Slugs.from(x),
      Waiting.from(x),
    );
  }

  /** A canonical description of the state (sets as sorted members): equal for equal projections, whatever their history. */
  digest(): string {
    const x = this.sections();
    const pairs = (a: Uint32Array) => {
      const out: string[] = [];
      for (let i = 0; i + 1 < a.length; i += 2) out.push(`${(a[i] as number).toString(16)}:${(a[i + 1] as number).toString(16)}`);
      return out.sort().join(',');
    };
    const heads: string[] = [];
    for (let r = 0; r < x.slugHi.length; r++) {
      const w = x.wait[r] as number;
      const strings = w === NO_WAIT ? '' : Buffer.from(x.arena.subarray(x.waitOff[w], (x.waitOff[w] as number) + (x.waitLen[w] as number))).toString('hex');
      heads.push(`${x.slugHi[r]}:${x.slugLo[r]}=${x.headHi[r]}:${x.headLo[r]}@${x.readyMs[r]}/${x.headPos[r]}/${strings}#${x.episode[r]}/${x.decidedMs[r]}`);
    }
    return JSON.stringify({ approved: pairs(x.approved), approvedSha: pairs(x.approvedSha), shaBound: pairs(x.shaBound), pushed: pairs(x.pushed), finalized: pairs(x.finalized), decided: pairs(x.decided), ids: pairs(x.ids), heads: heads.sort() });
  }
}

const refOf = (c: CandidateRef): CandidateRef => ({ slug: c.slug, branch: c.branch, sha: c.sha });

export const candidateKey = (c: CandidateRef) => `${c.slug}\0${c.branch}\0${c.sha}`;

/** The producer's id when it gave one, else the event's canonical content (keys sorted): what `explain` calls a duplicate. */
export function dedupKey(event: ReadinessEvent): string {
  if (event.id !== undefined) return `id:${event.id}`;
  return `c:${JSON.stringify(event, Object.keys(event).sort())}`;
}

/** A snapshot's sections (bytes) as the projection's typed arrays, viewed in place; a missing one is E_STATE_CORRUPT. */
export function sectionsFromBytes(raw: Record<string, Uint8Array>): ProjectionSections {
  const u32 = (n: string) => view(raw, n, Uint32Array);
  return {
    approved: u32('approved'),
    approvedSha: u32('approvedSha'),
    shaBound: u32('shaBound'),
    pushed: u32('pushed'),
    finalized: u32('finalized'),
    decided: u32('decided'),
    ids: u32('ids'),
    slugHi: u32('slugHi'),
    slugLo: u32('slugLo'),
    headHi: u32('headHi'),
    headLo: u32('headLo'),
    readyMs: view(raw, 'readyMs', Float64Array),
    headPos: view(raw, 'headPos', Float64Array),
    wait: view(raw, 'wait', Int32Array),
    episode: u32('episode'),
    decidedMs: view(raw, 'decidedMs', Float64Array),
    waitRefHi: u32('waitRefHi'),
    waitRefLo: u32('waitRefLo'),
    waitSlug: u32('waitSlug'),
    waitOff: u32('waitOff'),
    waitLen: u32('waitLen'),
    arena: raw.arena ?? new Uint8Array(0),
  };
}

function view<T extends Uint32Array | Int32Array | Float64Array>(raw: Record<string, Uint8Array>, name: string, Ctor: { new (b: ArrayBufferLike, o: number, n: number): T; BYTES_PER_ELEMENT: number }): T {
  const bytes = raw[name];
  if (!bytes) throw errors.stateFileCorrupt(name, `the snapshot has no section ${name}`);
  return new Ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / Ctor.BYTES_PER_ELEMENT);
}
