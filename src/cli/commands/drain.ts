/** `drain`: one shot, for hooks and cron. */
import { drain as drainOnce, type DrainReport } from '../../runtime/drain.js';
import { engineFactory } from '../../runtime/evaluator.js';
import type { Call, Output } from '../command.js';

export async function drain(call: Call<{ grace: number; json?: boolean }>): Promise<Output> {
  const { ctx, opts } = call;
  const l = await call.config();
  const r = await call.untilStopped((signal) => drainOnce(l, ctx, { engine: engineFactory(l, ctx), graceSeconds: opts.grace, signal }));
  return { json: r, text: () => describeDrain(r) };
}

function describeDrain(r: DrainReport): string {
  switch (r.status) {
    case 'mode_off':
      return r.message;
    case 'idle':
      return 'nothing to do: no new readiness events and an empty queue';
    case 'lease_busy':
      return `lease integration/main is held by ${r.holder.owner.host}:${r.holder.owner.pid} (epoch ${r.holder.epoch}, expires ${r.holder.expires_at}); that holder will process the new events`;
    case 'lease_lost':
      return `lost the lease (epoch ${r.epoch}): ${r.why}; stopped after ${r.decided} decision(s)`;
    case 'done':
      return `epoch ${r.epoch}: ingested ${r.ingested} event(s), rejected ${r.rejected} line(s), decided ${r.decided} candidate(s), ${r.queued} still queued`;
  }
}
