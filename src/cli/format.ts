/** Text for people: aligned tables and the short forms every command uses. */
import type { Outcome, Warning } from '../contract/types.generated.js';

/** A plain aligned table for people. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

export const short = (sha: string) => sha.slice(0, 12);

export const indent = (text: string, pad = '  ') =>
  text
    .split('\n')
    .map((l) => `${pad}${l}`)
    .join('\n');

export function describeOutcome(o: Outcome): string {
  const detail = outcomeDetail(o);
  return `${o.outcome} ${o.slug} ${o.branch}@${short(o.sha)}${detail ? ` (${detail})` : ''}`;
}

export function outcomeDetail(o: Outcome): string {
  const parts: string[] = [...o.reasons];
  if (o.conflicts.length > 0) parts.push(o.conflicts.map((c) => `${c.path} ${c.kind}`).join(', '));
  if (o.superseded_by) parts.push(`by ${o.superseded_by.branch}@${short(o.superseded_by.sha)}`);
  if (o.collides_with) parts.push(`collides with ${o.collides_with.map((a) => `${a.slug} ${a.branch}@${short(a.sha)}`).join(', ')} ahead of it (clean onto main alone)`);
  return parts.join(': ');
}

/** Warnings for people, one a line, after a blank line (nothing when there is none). */
export const warningLines = (warnings: readonly Warning[]): string[] => (warnings.length === 0 ? [] : ['', ...warnings.map((w) => `warning: ${w.message}`)]);
