/** `retry <slug> [--sha SHA]`: ask for a new readiness episode of the slug's current candidate. */
import { SHA_PATTERN, SLUG_PATTERN } from '../../contract/types.generated.js';
import { errors } from '../../contract/errors.js';
import { requestRetry } from '../../producer/emit.js';
import type { Call, Output } from '../command.js';

export async function retry(call: Call<{ sha?: string; requestedBy?: string; id?: string; json?: boolean }>, slug: string): Promise<Output> {
  const { ctx, opts } = call;
  if (!SLUG_PATTERN.test(slug)) throw errors.argumentInvalid('slug', slug, `a slug must match ${SLUG_PATTERN.source}`);
  if (opts.sha !== undefined && !SHA_PATTERN.test(opts.sha)) throw errors.optionInvalid('--sha', opts.sha, 'a full lowercase object id (40 or 64 hex digits)');
  const { event, file } = requestRetry(await call.config(), ctx, { slug, sha: opts.sha, requestedBy: opts.requestedBy, id: opts.id });
  const which = opts.sha ? `${slug} at ${opts.sha}` : `${slug}'s current candidate`;
  return {
    json: event,
    text: () =>
      [
        `appended retry_requested ${event.id ?? ''} to ${file}`,
        `the holder decides ${which} once more if it was decided before now; otherwise the retry changes nothing (see: shadow-integrator explain ${slug})`,
      ].join('\n'),
  };
}
