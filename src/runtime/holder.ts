/**
 * One tenure as lease holder: acquire `integration/main`, open the state (recovering what a previous
 * holder left), ingest and drain round after round until the queue is empty and no event arrived for
 * `grace_seconds`, end the round, release. The lease is renewed on the context's timers, also while a
 * long evaluation runs; losing it aborts the tenure's signal: the drain stops, the engine is closed,
 * nothing more is written.
 */
import { randomUUID } from 'node:crypto';
import type { ResolvedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import { errors, isShadowError } from '../contract/errors.js';
import type { LeaseFile } from '../contract/types.generated.js';
import type { StatePaths } from '../store/paths.js';
import { describeOwner } from './lease.js';
import { acquireLease, releaseLease, renewLease, selfOwner } from './lease-store.js';
import { HolderSession, type Counts, type EngineFactory, type SessionHooks, type SessionMemory } from './session.js';
import type { LogWaker } from './waker.js';

export interface HolderDeps {
  paths: StatePaths;
  config: ResolvedConfig;
  ctx: Context;
  engine: EngineFactory;
  waker: LogWaker;
  runId?: string;
  /** What the previous tenure of this process knew (watch keeps it: the next tenure need not load the state again). */
  memory?: { last: SessionMemory | null };
  hooks?: SessionHooks;
}

export interface HolderOptions {
  graceSeconds: number;
  /** Stops the tenure (SIGINT/SIGTERM): the current candidate is finished, the round ended, the lease released. */
  signal?: AbortSignal;
}

export type HolderResult =
  | { status: 'lease_busy'; holder: LeaseFile }
  | { status: 'lease_lost'; epoch: number; why: string; decided: number }
  | { status: 'done'; epoch: number; decided: number; ingested: number; rejected: number; counts: Counts; queued: number };

export async function runAsHolder(deps: HolderDeps, opts: HolderOptions): Promise<HolderResult> {
  const { paths, config, ctx } = deps;
  const acq = await acquireLease(paths, selfOwner(deps.runId ?? randomUUID()), ctx.now, config.lease.ttl_seconds, {
    onBroken: (o) => ctx.logger.log('warn', 'mutex_broken', { owner: `${o.host}:${o.pid}`, why: 'its owner, a process of this host, is dead' }),
  });
  if (!acq.acquired) return { status: 'lease_busy', holder: acq.holder };
  const { held } = acq;
  ctx.logger.log(acq.takeover === 'none' ? 'info' : 'warn', acq.takeover === 'none' ? 'lease_acquired' : 'lease_takeover', {
    epoch: held.epoch,
    takeover: acq.takeover === 'none' ? undefined : acq.takeover,
    previous_owner: acq.takeover === 'none' || !acq.previous ? undefined : describeOwner(acq.previous.owner),
  });

  // Lease loss is a signal: the drain, the engine and every fenced write see it.
  const lost = new AbortController();
  const stop = opts.signal ? AbortSignal.any([lost.signal, opts.signal]) : lost.signal;
  const renewal = ctx.timers.setInterval(() => {
    renewLease(paths, held, ctx.now, config.lease.ttl_seconds).then(
      (r) => ctx.logger.log(r.restored ? 'warn' : 'debug', r.restored ? 'lease_restored' : 'lease_renewed', { epoch: held.epoch, ...(r.restored ? { why: 'lease.json did not show this lease (deleted, or an ex-holder wrote it late)' } : {}) }),
      (e: unknown) => {
        // A failed renewal that is not a loss (a busy mutex) is retried at the next tick.
        if (isShadowError(e) && e.code === 'E_LEASE_LOST' && !lost.signal.aborted) lost.abort(e);
      },
    );
  }, config.lease.renew_every_seconds * 1000);

  const engine = deps.engine();
  // Losing the lease stops what the engine runs at once (its evaluation fails with E_CANCELLED and
  // records nothing), not when a long check ends; closing again at the end is harmless.
  lost.signal.addEventListener('abort', () => void engine.close().catch(() => undefined), { once: true });
  let session: HolderSession | null = null;
  let decided = 0;
  let ingested = 0;
  let rejected = 0;
  try {
    session = await HolderSession.open(
      { paths, config, ctx, held, takeover: { kind: acq.takeover, sinceMs: acq.previousSinceMs }, signal: lost.signal, ...(deps.hooks ? { hooks: deps.hooks } : {}) },
      deps.memory?.last ?? null,
    );
    for (;;) {
      const got = await session.ingest();
      ingested += got.accepted;
      decided += got.superseded; // supersession outcomes are ledger lines this tenure wrote
      rejected += got.rejected;
      decided += await session.drain(engine, stop);
      if (stop.aborted) break;
      // Every round that changed something ends durably: status and restarts stay current.
      await session.endRound();
      // Compared with the log as the ingestion saw it, so an append at any moment since is noticed.
      const now = deps.waker.stat();
      if (now.size !== got.observed.size || now.ino !== got.observed.ino) continue;
      if (session.queue.length > 0) continue;
      if (opts.graceSeconds <= 0 || !(await deps.waker.waitForChange(got.observed, opts.graceSeconds * 1000, stop))) break;
    }
    if (lost.signal.aborted) throw lost.signal.reason;
    // A shutdown (the caller's signal) writes the snapshot: the next start replays nothing.
    await session.endRound({ final: Boolean(opts.signal?.aborted) });
    const queued = session.queue.length;
    const counts = { ...session.counts };
    const memory = session.close();
    session = null;
    // Not ours any more at the very end (a pause before the last write): whatever that write was, it counts for nothing.
    if (!(await releaseLease(paths, held, ctx.now))) throw errors.leaseLost(held.epoch, 'it was no longer held at release');
    if (deps.memory) deps.memory.last = memory;
    ctx.logger.log('info', 'lease_released', { epoch: held.epoch, decided, queued });
    return { status: 'done', epoch: held.epoch, decided, ingested, rejected, counts, queued };
  } catch (e) {
    if (deps.memory) deps.memory.last = null;
    if (!isShadowError(e) || e.code !== 'E_LEASE_LOST') {
      // Do not make the next holder wait out the TTL because of our failure.
      await releaseLease(paths, held, ctx.now).catch(() => false);
      throw isShadowError(e) ? e : errors.internal('running a holder tenure', e);
    }
    ctx.logger.log('error', 'lease_lost', { epoch: held.epoch, why: String(e.details.why), decided });
    return { status: 'lease_lost', epoch: held.epoch, why: String(e.details.why), decided };
  } finally {
    ctx.timers.clearInterval(renewal);
    session?.close();
    await engine.close();
  }
}
