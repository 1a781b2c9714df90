/**
 * The validators, generated from schemas/ (the single source of truth) as standalone code by
 * scripts/gen-validators.mjs, and the translation of their errors into messages a person can act
 * on: which field, what was wrong, what is allowed. Nothing here compiles a schema: a hook or an
 * `emit` pays a few milliseconds to load the validators, not ajv's compilation of every schema.
 */
import type { ErrorObject } from 'ajv';
import { branchNameProblem } from './refname.js';
import { TIMESTAMP_EXAMPLE, timestampProblem } from './timestamp.js';
import { EVENT_TYPE_VALUES } from './types.generated.js';

/**
 * A generated validator: a type guard whose failures leave ajv's errors (verbose: each with its
 * parentSchema) in `errors`. The config's validator also fills the schema's defaults in place.
 */
export interface Validator<T> {
  (data: unknown): data is T;
  errors?: ErrorObject[] | null;
}

/** event, config, outcome, queue, lease, checkpoint, rejected: the files the tool reads and writes. */
export * as validators from './validators.generated.js';

/** Where the schemas are, for tests and tools that read them; no command reads them at run time. */
export const schemaDir = new URL('../../../schemas/', import.meta.url);

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
        ? `must be one of ${EVENT_TYPE_VALUES.map((t) => JSON.stringify(t)).join(', ')}`
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
