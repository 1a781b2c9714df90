/**
 * `hooks receive`: what the origin's post-receive hook does with git's input (`<old> <new> <ref>` a
 * line): one branch_pushed event per updated branch, appended to the working repository's
 * readiness.jsonl. Deleted branches and other refs (tags, notes) record nothing.
 */
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import { isShadowError } from '../contract/errors.js';
import type { BranchPushed } from '../contract/types.generated.js';
import { emit } from '../producer/emit.js';

const ZERO = /^0+$/;
const HEADS = 'refs/heads/';

export interface ReceiveReport {
  recorded: BranchPushed[];
  skipped: { ref: string; reason: string }[];
}

export function receivePushes(loaded: LoadedConfig, ctx: Context, input: string, opts: { remote?: string | undefined; pusher?: string | undefined }): ReceiveReport {
  const remote = opts.remote ?? loaded.config.remote;
  const pusher = opts.pusher ?? pusherOf(ctx.env);
  const report: ReceiveReport = { recorded: [], skipped: [] };
  for (const line of input.split('\n')) {
    const [, sha, ref] = line.trim().split(/\s+/);
    if (!sha || !ref?.startsWith(HEADS)) continue;
    if (ZERO.test(sha)) {
      report.skipped.push({ ref, reason: 'deleted' });
      continue;
    }
    try {
      const { event } = emit(loaded, ctx, 'branch_pushed', { branch: ref.slice(HEADS.length), sha, remote, pusher });
      report.recorded.push(event as BranchPushed);
    } catch (e) {
      // One unusable ref (a name the contract refuses) must not cost the other branches their event.
      if (!isShadowError(e) || e.code !== 'E_EVENT_INVALID') throw e;
      report.skipped.push({ ref, reason: e.message });
    }
  }
  return report;
}

/** Who pushed, as the serving side knows it: GitLab, Gitea/Forgejo, HTTP authentication, then the account. */
function pusherOf(env: NodeJS.ProcessEnv): string {
  const name = env.GL_USERNAME || env.GITEA_PUSHER_NAME || env.REMOTE_USER || env.USER || env.LOGNAME || 'unknown';
  return name.slice(0, 256);
}
