/** `parity`: the shadow's decisions against what landed on main; `--min-agreement` gates (exit 3). */
import { errors } from '../../contract/errors.js';
import { parseSince } from '../../report/filters.js';
import { LIVE_FATES, parity as compare, parseMinAgreement, SHADOW_ROWS, type ParityCandidate, type ParityReport } from '../../report/parity.js';
import type { Call, Output } from '../command.js';
import { indent, short, table } from '../format.js';

export async function parity(call: Call<{ json?: boolean; since?: string; minAgreement?: string }>): Promise<Output> {
  const { ctx, opts } = call;
  const r = await compare(await call.config(), ctx, {
    since: opts.since === undefined ? undefined : parseSince(opts.since, ctx.now()),
    minAgreement: opts.minAgreement === undefined ? undefined : parseMinAgreement(opts.minAgreement),
  });
  const failed = r.gate && !r.gate.passed ? errors.parityBelowThreshold(r.agreement ?? 0, r.gate.min_agreement, r.unsafe_permissive) : undefined;
  return { json: r, text: () => formatParity(r), ...(failed ? { failure: failed } : {}) };
}

function formatParity(r: ParityReport): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const out = [`parity against ${r.main_ref} (${short(r.main_sha)})${r.since ? `, decisions since ${r.since}` : ''}: ${r.candidates.length} candidate(s)`, ''];
  out.push(table([['SHADOW \\ LIVE', ...LIVE_FATES], ...SHADOW_ROWS.map((row) => [row, ...LIVE_FATES.map((f) => String(r.matrix[row][f]))])]), '');
  const interval = r.wilson95 ? `, 95% Wilson interval ${pct(r.wilson95.low)}–${pct(r.wilson95.high)}` : '';
  out.push(
    table([
      ['agreement', r.agreement === null ? 'n/a: no decision could be compared yet' : `${pct(r.agreement)} (${r.agreed}/${r.compared})${interval}`],
      ['unsafe-permissive', String(r.unsafe_permissive)],
      ['over-strict', String(r.over_strict)],
      ['stack blocks', `${r.stack_blocks} block(s) came from the stack (clean on main alone, colliding with a candidate ahead)${r.order_differs > 0 ? `; ${r.order_differs} of them live landed cleanly in another order (order_differs, not compared)` : ''}`],
      ['pending', String(r.pending)],
      ['excluded', `${r.excluded} (superseded, already_integrated, pending)`],
      ...(r.gate ? [['gate', r.gate.passed ? `passed (min ${pct(r.gate.min_agreement)})` : `FAILED (min ${pct(r.gate.min_agreement)}): ${r.gate.failures.join('; ')}`]] : []),
    ]),
  );
  if (r.mismatches.length > 0) {
    const rows = r.mismatches.map((m) => [m.verdict, m.slug, m.branch, short(m.sha), shadowText(m), liveText(m)]);
    out.push('', 'mismatches:', indent(table([['KIND', 'SLUG', 'BRANCH', 'SHA', 'SHADOW', 'LIVE'], ...rows])));
  }
  const reordered = r.candidates.filter((c) => c.verdict === 'order_differs');
  if (reordered.length > 0) {
    const rows = reordered.map((m) => [m.slug, m.branch, short(m.sha), (m.collides_with ?? []).map((a) => `${a.slug} ${a.branch}@${short(a.sha)}`).join(', '), liveText(m)]);
    out.push('', 'stack-caused blocks live landed in another order:', indent(table([['SLUG', 'BRANCH', 'SHA', 'COLLIDED WITH (AHEAD)', 'LIVE'], ...rows])));
  }
  out.push('', `agreement = ${r.definitions.agreement}`, `excluded: ${r.definitions.excluded}`);
  if (r.stack_blocks > 0) out.push(`order_differs: ${r.definitions.order_differs}`);
  return out.join('\n');
}

const shadowText = (c: ParityCandidate) => `${c.outcome}${c.reasons.length > 0 ? ` (${c.reasons.join(',')})` : ''}${c.collides_with ? `, colliding with ${c.collides_with.map((a) => a.slug).join(', ')} ahead` : ''}`;

function liveText(c: ParityCandidate): string {
  if (!c.landing) return c.fate;
  const base = c.landing.same_base ? '' : ', main had moved since the shadow evaluated it';
  return `${c.fate} via ${c.landing.via} ${short(c.landing.commit)}${c.reverted_by ? `, reverted by ${short(c.reverted_by)}` : ''}${base}`;
}
