/**
 * The readiness projection as a report sees it, without the lease and without replaying the whole
 * log: the snapshot the holder's last round names, plus the log after it (bounded: the holder writes
 * a new snapshot once that tail outgrows 4–16 MiB), read to its end — a few lines further than the
 * holder may have ingested. Nothing is written. `status` lists the waiting candidates from it, and
 * `conflicts` the undecided ones.
 */
import type { Round } from '../contract/types.generated.js';
import { isShadowError } from '../contract/errors.js';
import { forEachOutcome } from '../store/readers.js';
import { emptyCursor } from '../store/jsonl.js';
import type { StatePaths } from '../store/paths.js';
import { readSnapshot } from '../store/snapshot.js';
import { eventAt, ingest } from './ingest.js';
import { Projection, sectionsFromBytes, type Candidate } from './projection.js';

export interface ProjectionView {
  projection: Projection;
  /**
   * Candidates that became ready (or started a new episode) in the log after the snapshot and are
   * still their slug's head, by slug: the holder has queued or decided them since, or not read them yet.
   */
  readyAfter: Map<string, { candidate: Candidate; episode: number }>;
}

/**
 * The projection at the end of the log. With `decisions`, the outcomes written after the snapshot
 * are marked decided too (a report that must tell ready from decided).
 */
export function readProjectionView(paths: StatePaths, remote: string, round: Round | null, opts: { decisions?: boolean } = {}): ProjectionView {
  let projection = Projection.empty(remote);
  let from = emptyCursor();
  // From the snapshot when it is usable; else the log is read whole.
  let fromSnapshot = false;
  const ref = round?.snapshot ?? null;
  if (ref) {
    try {
      const loaded = readSnapshot(paths, ref.file);
      if (loaded && loaded.header.remote === remote) {
        projection = Projection.restore(remote, sectionsFromBytes(loaded.sections));
        from = ref.log;
        fromSnapshot = true;
      }
    } catch (e) {
      // Unusable (another version, or damaged): the holder rebuilds it from the log; so does this view.
      if (!isShadowError(e)) throw e;
    }
  }
  if (opts.decisions) forEachOutcome(paths, (o) => projection.markDecided(o), fromSnapshot ? (ref?.ledger ?? null) : null);
  let cursor = from;
  projection.readBackWith((position) => eventAt(paths.readiness, cursor, position));
  const readyAfter: ProjectionView['readyAfter'] = new Map();
  const res = ingest(paths.readiness, from, projection, {
    onEffect: (e) => {
      if (e.kind === 'ready') readyAfter.set(e.candidate.slug, { candidate: e.candidate, episode: e.episode });
      else if (e.kind === 'superseded') readyAfter.delete(e.slug);
    },
    onRejected: () => undefined,
  });
  cursor = res.cursor;
  return { projection, readyAfter };
}
