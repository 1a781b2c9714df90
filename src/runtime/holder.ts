/**
 * One tenure as lease holder: acquire `integration/main`, recover, ingest and drain until the queue
 * is empty and no event arrived for `grace_seconds`, checkpoint, release. The lease is renewed on a
 * timer, also while a long evaluation runs; losing it stops the tenure at once, without a write.
 */
import { randomUUID } from 'node:crypto';
import type { ResolvedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import { isShadowError, type ShadowError } from '../contract/errors.js';
import type { LeaseFile } from '../contract/types.generated.js';
import type { StatePaths } from '../store/paths.js';
import { describeOwner } from './lease.js';
import { acquireLease, releaseLease, renewLease, selfOwner } from './lease-store.js';
import { HolderSession, type Counts, type Evaluator } from './session.js';
import type { LogWaker } from './waker.js';

export interface HolderDeps {
  paths: StatePaths;
  config: ResolvedConfig;
  ctx: Context;
  evaluate: Evaluator;
  waker: LogWaker;
  runId?: string;
}

export interface HolderOptions {
  graceSeconds: number;
  signal?: AbortSignal;
}

export type HolderResult =
  | { status: 'lease_busy'; holder: LeaseFile }
  | { status: 'lease_lost'; epoch: number; why: string; decided: number }
  | { status: 'done'; epoch: number; decided: number; ingested: number; rejected: number; counts: Counts; queued: number };

export async function runAsHolder(deps: HolderDeps, opts: HolderOptions): Promise<HolderResult> {
  const { paths, config, ctx } = deps;
  const acq = await acquireLease(paths, selfOwner(deps.runId ?? randomUUID()), ctx.now(), config.lease.ttl_seconds);
  if (!acq.acquired) return { status: 'lease_busy', holder: acq.holder };
  const { held } = acq;
  ctx.logger.log(acq.takeover === 'none' ? 'info' : 'warn', acq.takeover === 'none' ? 'lease_acquired' : 'lease_takeover', {
    epoch: held.epoch,
    takeover: acq.takeover === 'none' ? undefined : acq.takeover,
    previous_owner: acq.takeover === 'none' || !acq.previous ? undefined : describeOwner(acq.previous.owner),
  });

  // Set by the renewal timer's callback: declared wide so that the checks below are not narrowed away.
  let lost = null as ShadowError | null;
  const renewal = setInterval(() => {
    renewLease(paths, held, ctx.now, config.lease.ttl_seconds).then(
      () => ctx.logger.log('debug', 'lease_renewed', { epoch: held.epoch }),
      (e: unknown) => {
        // A failed renewal that is not a loss (a busy mutex) is retried at the next tick.
        if (isShadowError(e) && e.code === 'E_LEASE_LOST' && !lost) lost = e;
      },
    );
  }, config.lease.renew_every_seconds * 1000);

  let decided = 0;
  let ingested = 0;
  let rejected = 0;
  try {
    const session = await HolderSession.open({ paths, config, ctx, held, evaluate: deps.evaluate });
    const stop = () => Boolean(opts.signal?.aborted) || lost !== null;
    for (;;) {
      const got = await session.ingest();
      ingested += got.accepted;
      decided += got.superseded; // supersession outcomes are ledger lines this tenure wrote
      rejected += got.rejected;
      const round = await session.drain(stop);
      decided += round;
      if (stop()) break;
      // After each drain, not only at release: a long tenure under watch keeps status and restarts current.
      if (round > 0) await session.checkpoint();
      // Compared with the log as the ingestion saw it, so an append at any moment since is noticed.
      const now = deps.waker.stat();
      if (now.size !== got.observed.size || now.ino !== got.observed.ino) continue;
      if (session.queue.length > 0) continue;
      if (opts.graceSeconds <= 0 || !(await deps.waker.waitForChange(got.observed, opts.graceSeconds * 1000, opts.signal))) break;
    }
    if (lost) throw lost;
    await session.checkpoint();
    await releaseLease(paths, held, ctx.now);
    ctx.logger.log('info', 'lease_released', { epoch: held.epoch, decided, queued: session.queue.length });
    return { status: 'done', epoch: held.epoch, decided, ingested, rejected, counts: session.counts, queued: session.queue.length };
  } catch (e) {
    if (!isShadowError(e) || e.code !== 'E_LEASE_LOST') {
      // Do not make the next holder wait out the TTL because of our failure.
      await releaseLease(paths, held, ctx.now).catch(() => false);
      throw e;
    }
    ctx.logger.log('error', 'lease_lost', { epoch: held.epoch, why: String(e.details.why), decided });
    return { status: 'lease_lost', epoch: held.epoch, why: String(e.details.why), decided };
  } finally {
    clearInterval(renewal);
  }
}
