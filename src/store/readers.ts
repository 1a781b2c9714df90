/**
 * The read side of the whole-file state (lease.json, queue.json, checkpoint.json) for readers that
 * hold no lease and take no mutex — the reports. Each file is replaced whole by rename, so a read
 * sees one consistent version; a missing file is null.
 */
import type { CheckpointFile, LeaseFile, QueueFile } from '../contract/types.generated.js';
import { validators } from '../contract/validate.js';
import { readJson } from './atomic-json.js';
import type { StatePaths } from './paths.js';

export const readLeaseFile = (paths: StatePaths): LeaseFile | null => readJson(paths.lease, validators.lease);
export const readQueueFile = (paths: StatePaths): QueueFile | null => readJson(paths.queue, validators.queue);
export const readCheckpointFile = (paths: StatePaths): CheckpointFile | null => readJson(paths.checkpoint, validators.checkpoint);
