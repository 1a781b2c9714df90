/**
 * Objects looked up by `git cat-file`: it answers "missing" per name instead of failing the whole call,
 * and its input is never parsed as options. One-shot (`resolveRevisions`: names to object ids), or
 * through a long-lived `--batch-command` process (`CatFileBatch`) at a fraction of a spawn per request:
 * git reads the ref files and rescans the packs on each lookup that needs it, so the process sees ref
 * updates and new packs as they land.
 */
import { errors, type ShadowError } from '../contract/errors.js';
import type { CommitNode } from './ancestry.js';
import { SHA } from './guard.js';
import { finished, runGit, startGit, type GitHandle, type StartedProcess } from './runner.js';

function checkedNames(names: readonly string[]): readonly string[] {
  for (const n of names) if (n === '' || /[\r\n]/.test(n)) throw errors.gitRefused(`revision ${JSON.stringify(n)}`);
  return names;
}

/** Resolves names (`refs/…`, `<sha>^{commit}`, `<ref>^{tree}`…) in one spawn; null for each that does not exist. */
export async function resolveRevisions(h: GitHandle, revs: readonly string[]): Promise<(string | null)[]> {
  if (revs.length === 0) return [];
  const input = checkedNames(revs).map((r) => `${r}\n`).join('');
  const lines = (await runGit(h, ['cat-file', '--batch-check=%(objectname)'], { input })).stdout.split('\n');
  return revs.map((_, i) => (SHA.test(lines[i] ?? '') ? (lines[i] as string) : null));
}

/** One answer of `--batch-command`: the object's id, type and (for `contents`) its bytes; null when missing. */
interface Found {
  oid: string;
  type: string;
  body: Buffer | null;
}

type Command = 'info' | 'contents';

const ARGS = ['cat-file', '--batch-command'];

interface Running {
  process: StartedProcess;
  /** Output not read into answers yet. */
  pending: Buffer;
  exited: boolean;
  wake: () => void;
}

/**
 * A long-lived `cat-file --batch-command` for one owner (an engine's tenure). Each request has the git
 * timeout; a process that timed out, died or was killed is replaced by the next request, and only the
 * request it was answering fails.
 */
export class CatFileBatch {
  private running: Running | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly h: GitHandle) {}

  /** The process answering now, if any (tests kill it). */
  get pid(): number | undefined {
    return this.running?.process.pid;
  }

  /** Names (`refs/…`, `<sha>^{commit}`, `<ref>^{tree}`…) to object ids; null for each that does not exist. */
  async resolve(revs: readonly string[]): Promise<(string | null)[]> {
    return (await this.request('info', checkedNames(revs))).map((f) => f?.oid ?? null);
  }

  /** Commits' parents and dates, for the ancestry walk; null for an object that is not a commit here. */
  async commits(oids: readonly string[]): Promise<(CommitNode | null)[]> {
    for (const oid of oids) if (!SHA.test(oid)) throw errors.gitRefused(`object id ${JSON.stringify(oid)}`);
    return (await this.request('contents', oids)).map((f) => (f?.type === 'commit' && f.body ? commitNode(f.body) : null));
  }

  /** Objects' types and contents, in order; null for each that does not exist. */
  async objects(oids: readonly string[]): Promise<({ type: string; body: Buffer } | null)[]> {
    for (const oid of oids) if (!SHA.test(oid)) throw errors.gitRefused(`object id ${JSON.stringify(oid)}`);
    return (await this.request('contents', oids)).map((f) => (f?.body ? { type: f.type, body: f.body } : null));
  }

  /** Ends the process once the requests in flight are answered; a later request starts a new one. */
  async close(): Promise<void> {
    await this.queue;
    const r = this.running;
    this.running = null;
    if (r) await r.process.finish();
  }

  private request(command: Command, names: readonly string[]): Promise<(Found | null)[]> {
    const result = this.queue.then(() => this.ask(command, names));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Writes a request and reads its answers. A process that died before answering any of it — it may
   * have died while idle, unnoticed yet — is replaced and asked once more.
   */
  private async ask(command: Command, names: readonly string[], retry = true): Promise<(Found | null)[]> {
    if (names.length === 0) return [];
    const current = this.running !== null && !this.running.exited ? this.running : null;
    const r = current ?? this.start();
    r.process.holdOpen(true);
    r.process.stdin.write(names.map((n) => `${command} ${n}\n`).join(''));
    const answers: (Found | null)[] = [];
    const timer = this.h.timers.setTimeout(() => r.process.kill('timeout'), this.h.timeoutSeconds * 1000);
    try {
      for (;;) {
        while (answers.length < names.length && readAnswer(r, command, answers));
        if (answers.length === names.length || r.exited) break;
        await new Promise<void>((wake) => (r.wake = wake));
      }
    } finally {
      this.h.timers.clearTimeout(timer);
    }
    if (answers.length === names.length) {
      r.process.holdOpen(false);
      return answers;
    }
    if (this.running === r) this.running = null;
    const failure = await finished(this.h, r.process, ARGS).then(
      () => errors.gitFailed(ARGS, 0, 'exited without answering'),
      (e: ShadowError) => e,
    );
    if (retry && current !== null && answers.length === 0 && failure.code === 'E_GIT_FAILED') return this.ask(command, names, false);
    throw failure;
  }

  private start(): Running {
    const child = startGit(this.h, ARGS, { bounded: false });
    const r: Running = { process: child, pending: Buffer.alloc(0), exited: false, wake: () => undefined };
    child.stdout.on('data', (d: Buffer) => {
      r.pending = r.pending.length === 0 ? d : Buffer.concat([r.pending, d]);
      r.wake();
    });
    void child.exited.then(() => {
      r.exited = true;
      r.wake();
    });
    this.running = r;
    return r;
  }
}

/** Takes one complete answer off `r.pending` into `answers`; false when it has not fully arrived. */
function readAnswer(r: Running, command: Command, answers: (Found | null)[]): boolean {
  const eol = r.pending.indexOf(0x0a);
  if (eol === -1) return false;
  // `<oid> <type> <size>`, the default format; anything else (`<name> missing`, `<name> ambiguous`) is not found.
  const [oid = '', type = '', sizeText = '', ...rest] = r.pending.toString('utf8', 0, eol).split(' ');
  if (!SHA.test(oid) || !/^[a-z]+$/.test(type) || !/^\d+$/.test(sizeText) || rest.length > 0) {
    answers.push(null);
    r.pending = r.pending.subarray(eol + 1);
    return true;
  }
  if (command === 'info') {
    answers.push({ oid, type, body: null });
    r.pending = r.pending.subarray(eol + 1);
    return true;
  }
  // contents: the header, <size> bytes, a newline.
  const size = Number(sizeText);
  if (r.pending.length < eol + 1 + size + 1) return false;
  answers.push({ oid, type, body: Buffer.from(r.pending.subarray(eol + 1, eol + 1 + size)) });
  r.pending = r.pending.subarray(eol + 1 + size + 1);
  return true;
}

/** A commit object's parents and committer time. */
function commitNode(body: Buffer): CommitNode {
  const end = body.indexOf('\n\n');
  const header = body.toString('utf8', 0, end === -1 ? body.length : end).split('\n');
  const parents = header.filter((l) => l.startsWith('parent ')).map((l) => l.slice(7));
  const committer = header.find((l) => l.startsWith('committer '));
  const date = Number(/ (\d+) [+-]\d{4}$/.exec(committer ?? '')?.[1] ?? 0);
  return { parents, date };
}
