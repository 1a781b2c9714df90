/**
 * Validators compiled once from schemas/ (the single source of truth), and the translation of ajv's
 * errors into messages a person can act on: which field, what was wrong, what is allowed.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { branchNameProblem, isValidBranchName } from './refname.js';
import { isTimestamp, TIMESTAMP_EXAMPLE, timestampProblem } from './timestamp.js';
import type { CheckpointFile, Config, LeaseFile, Outcome, QueueFile, ReadinessEvent, RejectedLine } from './types.generated.js';

export const schemaDir = new URL('../../../schemas/', import.meta.url);

// verbose: errors carry their parentSchema, so that an unknown field can be answered with the known ones.
const ajv = new Ajv2020({ allErrors: true, discriminator: true, strict: true, allowUnionTypes: true, verbose: true });
// Our own date-time: ajv-formats lets through timestamps that become NaN later (a leap second).
ajv.addFormat('date-time', { type: 'string', validate: isTimestamp });
ajv.addFormat('git-branch', { type: 'string', validate: isValidBranchName });

/** Compiled on first use and kept: a CLI call (a hook, an emit) pays only for the schemas it needs. */
function lazy<T>(file: string): () => ValidateFunction<T> {
  let compiled: ValidateFunction<T> | null = null;
  return () => (compiled ??= ajv.compile<T>(JSON.parse(readFileSync(new URL(file, schemaDir), 'utf8')) as object));
}

const compilers = {
  event: lazy<ReadinessEvent>('readiness-event.schema.json'),
  config: lazy<Config>('config.schema.json'),
  outcome: lazy<Outcome>('outcome.schema.json'),
  queue: lazy<QueueFile>('queue.schema.json'),
  lease: lazy<LeaseFile>('lease.schema.json'),
  checkpoint: lazy<CheckpointFile>('checkpoint.schema.json'),
  rejected: lazy<RejectedLine>('rejected.schema.json'),
};

type Validators = { readonly [K in keyof typeof compilers]: ReturnType<(typeof compilers)[K]> };

export const validators = Object.defineProperties(
  {},
  Object.fromEntries(Object.entries(compilers).map(([name, get]) => [name, { get, enumerable: true }])),
) as Validators;

export interface FieldProblem {
  /** Dotted path of the offending field ('' for the whole document). */
  field: string;
  message: string;
}

/** One problem per offending field, in words: `branch: must be a valid git branch name (starts with '-')`. */
export function describeErrors(errs: readonly ErrorObject[] | null | undefined, data: unknown): FieldProblem[] {
  const problems = new Map<string, FieldProblem>();
  for (const e of errs ?? []) {
    // oneOf/discriminator wrappers repeat what the branch errors already say.
    if (e.keyword === 'oneOf' || e.keyword === 'discriminator') continue;
    const base = e.instancePath.slice(1).replace(/\//g, '.');
    const field =
      e.keyword === 'required' ? join(base, (e.params as { missingProperty: string }).missingProperty)
      : e.keyword === 'additionalProperties' ? join(base, (e.params as { additionalProperty: string }).additionalProperty)
      : base;
    const key = `${field}\0${e.keyword}`;
    if (!problems.has(key)) problems.set(key, { field, message: explain(e, data) });
  }
  return [...problems.values()];
}

const join = (base: string, name: string) => (base ? `${base}.${name}` : name);

function explain(e: ErrorObject, data: unknown): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties': {
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return known.length > 0 ? `is not a known field (known fields: ${known.join(', ')})` : 'is not a known field';
    }
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}`;
    case 'type':
      return `must be of type ${String(p.type)}`;
    case 'pattern':
      return `must match ${String(p.pattern)}`;
    case 'format':
      if (p.format === 'git-branch') {
        const value = valueAt(data, e.instancePath);
        return `must be a valid git branch name (${typeof value === 'string' ? branchNameProblem(value) : 'not a string'})`;
      }
      if (p.format === 'date-time') {
        const value = valueAt(data, e.instancePath);
        const why = typeof value === 'string' ? timestampProblem(value) : null;
        return `must be an ISO 8601 date-time with a zone (RFC 3339), e.g. ${TIMESTAMP_EXAMPLE}${why ? `: ${why}` : ''}`;
      }
      return `must be a valid ${String(p.format)}`;
    case 'discriminator':
      return p.error === 'mapping'
        ? `must be one of "review_approved", "finalize_ready", "branch_pushed", "retry_requested"`
        : 'is required and must be a string';
    default:
      return e.message ?? e.keyword;
  }
}

function valueAt(data: unknown, pointer: string): unknown {
  let cur: unknown = data;
  for (const part of pointer.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

export const formatProblems = (problems: FieldProblem[]): string[] =>
  problems.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message));
