/**
 * What the hooks do with git's ref updates (`<old> <new> <ref>` a line): one branch_pushed event per
 * branch that a push updated, appended to the working repository's readiness.jsonl.
 * - `hooks receive` (the origin's post-receive): updates of `refs/heads/<branch>` in the origin.
 * - `hooks pushed` (the working repository's reference-transaction, committed): updates of
 *   `refs/remotes/<remote>/<branch>`, which git makes when a push to that remote succeeds (and when
 *   a fetch brings a branch: either way the remote has the branch at that sha).
 * Deleted branches and other refs (tags, notes, the remote's HEAD, other remotes) record nothing.
 * Each event's id is derived from (remote, branch, sha): both hooks seeing the same push, or a fetch
 * after a push, append a duplicate that changes nothing.
 */
import { createHash } from 'node:crypto';
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import { isShadowError } from '../contract/errors.js';
import type { BranchPushed, ReceiveReport } from '../contract/types.generated.js';
import { emit, userOf } from '../producer/emit.js';

const ZERO = /^0+$/;

export type { ReceiveReport };

/** The origin's side: `refs/heads/<branch>` updated by a push it received. */
export function receivePushes(loaded: LoadedConfig, ctx: Context, input: string, opts: { remote?: string | undefined; pusher?: string | undefined }): ReceiveReport {
  const remote = opts.remote ?? loaded.config.remote;
  return recordBranches(loaded, ctx, input, 'refs/heads/', remote, opts.pusher ?? pusherOf(ctx.env));
}

/** The pushing side: `refs/remotes/<configured remote>/<branch>` updated in this repository. */
export function recordTrackingUpdates(loaded: LoadedConfig, ctx: Context, input: string, opts: { pusher?: string | undefined }): ReceiveReport {
  const remote = loaded.config.remote;
  return recordBranches(loaded, ctx, input, `refs/remotes/${remote}/`, remote, opts.pusher ?? pusherOf(ctx.env));
}

function recordBranches(loaded: LoadedConfig, ctx: Context, input: string, prefix: string, remote: string, pusher: string): ReceiveReport {
  const report: ReceiveReport = { recorded: [], skipped: [] };
  for (const line of input.split('\n')) {
    const [, sha, ref] = line.trim().split(/\s+/);
    if (!sha || !ref) continue;
    if (!ref.startsWith(prefix)) {
      if (ref.startsWith('refs/remotes/') && !ref.endsWith('/HEAD')) report.skipped.push({ ref, reason: `not a branch of ${remote}, the configured remote` });
      continue;
    }
    const branch = ref.slice(prefix.length);
    if (branch === 'HEAD') continue;
    if (ZERO.test(sha)) {
      report.skipped.push({ ref, reason: 'deleted' });
      continue;
    }
    try {
      const { event } = emit(loaded, ctx, 'branch_pushed', { id: pushId(remote, branch, sha), branch, sha, remote, pusher });
      report.recorded.push(event as BranchPushed);
    } catch (e) {
      // One unusable ref (a name the contract refuses) must not cost the other branches their event.
      if (!isShadowError(e) || e.code !== 'E_EVENT_INVALID') throw e;
      report.skipped.push({ ref, reason: e.message });
    }
  }
  return report;
}

/** The idempotency key of "remote has branch at sha": the same whichever hook records it. */
const pushId = (remote: string, branch: string, sha: string): string => `push:${createHash('sha256').update(`${remote}\0${branch}\0${sha}`).digest('hex').slice(0, 32)}`;

/** Who pushed, as the serving side knows it: GitLab, Gitea/Forgejo, HTTP authentication, then the account. */
function pusherOf(env: NodeJS.ProcessEnv): string {
  return (env.GL_USERNAME || env.GITEA_PUSHER_NAME || env.REMOTE_USER || userOf(env)).slice(0, 256);
}
