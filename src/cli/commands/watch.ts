/**
 * `watch`: follow the log beside the agents until stopped. On a terminal, a one-line summary stays
 * at the bottom (refreshed every second and at every happening) while log lines scroll above it:
 * whether this process holds the lease or stands by for another holder, the check running and for
 * how long, the queue, the last decision. What is happening is learnt from the runtime's and the
 * engine's log events (lease_acquired, check_started, decided, …), not from hooks into them.
 */
import type { LoadedConfig } from '../../config/config.js';
import { createLogger, type Context, type LogFields, type Logger } from '../../context.js';
import type { Owner } from '../../contract/types.generated.js';
import { CollisionWatch } from '../../report/conflicts.js';
import { ago, shortDuration, status as readStatus, type StateStatus } from '../../report/status.js';
import { watch as follow } from '../../runtime/drain.js';
import { engineFactory } from '../../runtime/evaluator.js';
import type { Call } from '../command.js';
import { LiveLine } from '../live-line.js';

/** What the log events say this process is doing. */
export class WatchActivity {
  /** The epoch of the lease this process holds, or null. */
  holding: number | null = null;
  /** The epoch of the lease this process held last, or null. */
  held: number | null = null;
  /** The candidate whose check runs, the check and when it started. */
  check: { slug: string; name: string; since: number } | null = null;

  observe(event: string, fields: LogFields, now: Date): void {
    switch (event) {
      case 'lease_acquired':
      case 'lease_takeover':
        this.holding = typeof fields.epoch === 'number' ? fields.epoch : null;
        this.held = this.holding;
        break;
      case 'lease_released':
      case 'lease_lost':
        this.holding = null;
        this.check = null;
        break;
      case 'check_started':
        this.check = { slug: String(fields.slug), name: String(fields.check), since: now.getTime() };
        break;
      case 'check_finished':
      case 'decided':
        this.check = null;
        break;
    }
  }

  /** What a stop request (Ctrl-C) does now, in words. */
  stopping(now: Date): string {
    if (this.check) {
      return `stopping: finishing the current candidate ${this.check.slug} first (check "${this.check.name}" has run ${shortDuration(now.getTime() - this.check.since)}), then releasing the lease; Ctrl-C again stops at once (the next holder evaluates ${this.check.slug} again)`;
    }
    return this.holding !== null ? 'stopping: finishing the current candidate first, then checkpointing and releasing the lease' : 'stopping';
  }
}

const shortOwner = (o: Owner) => `${o.host}:${o.pid} (run ${o.run_id.slice(0, 8)})`;

/** The summary line: this process's part first (it is what a cut line keeps), then the queue and the last decision. */
export function watchSummary(s: StateStatus, activity: WatchActivity, now: Date): string {
  const parts: string[] = [];
  if (activity.holding !== null) parts.push(`this watch holds integration/main (epoch ${activity.holding})`);
  else if (s.lease.state === 'held' && s.lease.owner) parts.push(`standing by: integration/main is held by ${shortOwner(s.lease.owner)}, epoch ${s.lease.epoch}`);
  else if (s.lease.state === 'expired') parts.push(`lease expired (epoch ${s.lease.epoch}): taken over when work arrives`);
  else parts.push('waiting for readiness events');
  if (activity.check) parts.push(`${activity.check.slug}: check "${activity.check.name}" ${shortDuration(now.getTime() - activity.check.since)}`);
  parts.push(`queue ${s.queue.length}`);
  const o = s.last_outcome;
  parts.push(o ? `last ${o.outcome} ${o.slug}${o.reasons.length > 0 ? ` (${o.reasons.join(',')})` : ''} ${ago(s, o.decided_at)}` : 'no decision yet');
  if (s.warnings.length > 0) parts.push(`${s.warnings.length} warning(s): shadow-integrator status`);
  return parts.join(' · ');
}

export async function watch(call: Call<{ poll: number; heartbeat: number; forecastEvery: number }>): Promise<void> {
  const { ctx, io, globals, opts } = call;
  const l = await call.config();
  const activity = new WatchActivity();
  // On a terminal (and not for machines): the live summary, log lines above it.
  const live = io.isTTY && globals.logFormat !== 'json' ? new LiveLine({ stdout: io.stdout, stderr: io.stderr, columns: () => io.columns?.() }, () => render(l, ctx, activity)) : null;
  const wctx: Context = { ...ctx, logger: observed(ctx, activity, live, globals.logLevel) };
  const refresh = live ? io.timers.setInterval(() => live.refresh(), 1000) : null;
  live?.refresh();
  // The collision forecast, beside the holder: see CollisionWatch.
  const collisions = new CollisionWatch(l, wctx);
  const forecasts = io.timers.setInterval(() => void collisions.poll(activity.held, activity.check !== null), opts.forecastEvery * 1000);
  try {
    const r = await call.untilStopped((signal) => {
      signal.addEventListener('abort', () => {
        const said = activity.stopping(io.now());
        if (live) live.log(`shadow-integrator: ${said}`);
        else wctx.logger.log('info', 'stop_requested', { finishing: activity.check?.slug, note: said });
      });
      return follow(l, wctx, { engine: engineFactory(l, wctx, { checkHeartbeatMs: opts.heartbeat * 1000 }), signal, pollMs: opts.poll });
    });
    if (r.status === 'mode_off') {
      live?.close();
      ctx.stdout(r.message ?? '');
    }
  } finally {
    io.timers.clearInterval(forecasts);
    if (refresh !== null) io.timers.clearInterval(refresh);
    await collisions.close();
    live?.close();
  }
}

/** The command's logger, seen by `activity` first; on a terminal its lines go above the live summary. */
function observed(ctx: Context, activity: WatchActivity, live: LiveLine | null, level: Call<object>['globals']['logLevel']): Logger {
  let wrote = false;
  const lines = live ? createLogger({ format: 'logfmt', minLevel: level ?? 'info', now: ctx.now, write: (line) => ((wrote = true), live.log(line)) }) : ctx.logger;
  return {
    log(lvl, event, fields = {}) {
      activity.observe(event, fields, ctx.now());
      wrote = false;
      lines.log(lvl, event, fields);
      // A happening below the log level still changes the summary.
      if (live && !wrote) live.refresh();
    },
  };
}

function render(l: LoadedConfig, ctx: Context, activity: WatchActivity): string {
  try {
    return watchSummary(readStatus(l, ctx, { waiting: false }), activity, ctx.now());
  } catch (e) {
    return `status unavailable: ${(e as Error).message}`;
  }
}
