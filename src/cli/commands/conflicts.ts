/** `conflicts`: which undecided candidates would collide with each other, as a matrix for people. */
import type { ConflictsReport } from '../../contract/types.generated.js';
import { conflicts as forecastConflicts } from '../../report/conflicts.js';
import type { Call, Output } from '../command.js';
import { indent, short, table } from '../format.js';

export async function conflicts(call: Call<{ json?: boolean }>): Promise<Output> {
  const loaded = await call.config();
  const r = await forecastConflicts(loaded, call.ctx);
  return { json: r, text: () => formatConflicts(r, `${loaded.config.remote}/${loaded.config.main_branch}`) };
}

function formatConflicts(r: ConflictsReport, main: string): string {
  const m = r.merges;
  const head = `forecast on ${main} ${short(r.main_sha)}: ${r.candidates.length} candidate(s), ${r.pairs.length} colliding pair(s) — merged ${m.alone} onto main and ${m.pairs} pair(s) now, ${m.pairs_reused + m.pairs_carried} pair answer(s) reused`;
  if (r.candidates.length === 0) return `${head}\n\nno undecided candidate: nothing to forecast`;
  const number = new Map(r.candidates.map((c, i) => [c.sha, i + 1]));
  const rows = r.candidates.map((c, i) => [String(i + 1), c.slug, c.branch, short(c.sha), c.state, c.onto_main === 'conflict' ? `conflict: ${c.conflicts.join(', ')}` : c.onto_main]);
  const parts = [head, indent(table([['#', 'SLUG', 'BRANCH', 'SHA', 'STATE', 'ONTO MAIN ALONE'], ...rows]))];
  if (r.pairs.length === 0) {
    parts.push('no two of them collide: each merges cleanly after any other');
    return parts.join('\n\n');
  }
  const collide = new Set(r.pairs.flatMap((p) => [`${p.a.sha} ${p.b.sha}`, `${p.b.sha} ${p.a.sha}`]));
  const width = String(r.candidates.length).length + 1;
  const cell = (s: string) => s.padStart(width);
  const matrix = [
    `${cell('')} ${r.candidates.map((_, j) => cell(String(j + 1))).join('')}`,
    ...r.candidates.map((a, i) => `${cell(String(i + 1))} ${r.candidates.map((b, j) => cell(i === j ? '\\' : a.onto_main !== 'clean' || b.onto_main !== 'clean' ? '-' : collide.has(`${a.sha} ${b.sha}`) ? 'x' : '.')).join('')}`),
  ];
  parts.push(`collisions (x: merging one after the other conflicts; .: they do not; -: not paired, it does not merge cleanly onto main alone):\n${indent(matrix.join('\n'))}`);
  parts.push(`colliding pairs:\n${r.pairs.map((p) => `  ${number.get(p.a.sha) ?? '?'} ${p.a.slug} x ${number.get(p.b.sha) ?? '?'} ${p.b.slug}: ${p.paths.join(', ')}`).join('\n')}`);
  return parts.join('\n\n');
}
