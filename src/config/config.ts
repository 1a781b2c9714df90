/**
 * The effective configuration: schema defaults (schemas/config.schema.json is the source of truth
 * for them too), overridden by `.shadow-integrator.yml`, with where each value came from. Every
 * problem names the key, its line and the allowed values.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { errors } from '../contract/errors.js';
import type { Config } from '../contract/types.generated.js';
import { describeErrors, schemaDir, validators } from '../contract/validate.js';
import { findRepo, type RepoLayout } from './repo.js';

export const CONFIG_FILE = '.shadow-integrator.yml';

export interface Check {
  name: string;
  run: string;
  timeout_seconds: number;
}

export interface ResolvedConfig {
  mode: 'off' | 'shadow';
  remote: string;
  main_branch: string;
  state_dir: string;
  lease: { ttl_seconds: number; renew_every_seconds: number };
  grace_seconds: number;
  fetch: boolean;
  engine: 'merge-tree' | 'worktree';
  checks: Check[];
  git_timeout_seconds: number;
  base: 'queue' | 'tip';
}

export interface LoadedConfig {
  config: ResolvedConfig;
  /** The config file read, or null when none exists (all defaults). */
  file: string | null;
  /** For each dotted key: 'default' or '<file>:<line>'. */
  sources: Record<string, string>;
  repo: RepoLayout;
  /** Directory relative paths in the config resolve against. */
  root: string;
}

interface SchemaNode {
  type?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
}

const configSchema = JSON.parse(readFileSync(new URL('config.schema.json', schemaDir), 'utf8')) as SchemaNode;

/** Leaf keys with their schema defaults, e.g. `lease.ttl_seconds` → 120. */
function schemaDefaults(node: SchemaNode, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (child.properties) Object.assign(out, schemaDefaults(child, path));
    else if ('default' in child) out[path] = child.default;
  }
  return out;
}

export function loadConfig(opts: { cwd: string; configPath?: string | undefined; stateDir?: string | undefined }): LoadedConfig {
  const repo = findRepo(opts.cwd);
  const root = repo.mainWorktree ?? repo.commonDir;
  const file = opts.configPath ? resolve(opts.cwd, opts.configPath) : join(root, CONFIG_FILE);
  const parsed = readConfigFile(file, Boolean(opts.configPath));

  const sources: Record<string, string> = {};
  const flat: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schemaDefaults(configSchema))) {
    flat[key] = value;
    sources[key] = 'default';
  }
  flat.state_dir = join(repo.commonDir, 'shadow-integrator');
  sources.state_dir = 'default (<git common dir>/shadow-integrator)';
  if (parsed) {
    for (const [key, value] of Object.entries(flatten(parsed.data))) {
      flat[key] = value;
      sources[key] = `${file}:${parsed.lineOf(key.split('.')) ?? '?'}`;
    }
  }
  if (opts.stateDir) {
    flat.state_dir = opts.stateDir;
    sources.state_dir = '--state-dir';
  }
  const config = unflatten(flat) as unknown as ResolvedConfig;
  config.state_dir = isAbsolute(config.state_dir) ? config.state_dir : resolve(opts.stateDir ? opts.cwd : root, config.state_dir);
  config.checks = config.checks.map((c, i) => ({ name: c.name ?? `check ${i + 1}`, run: c.run, timeout_seconds: c.timeout_seconds ?? 300 }));
  if (config.lease.renew_every_seconds >= config.lease.ttl_seconds) {
    throw errors.configInvalid(file, [
      {
        key: 'lease.renew_every_seconds',
        line: parsed?.lineOf(['lease', 'renew_every_seconds']),
        message: `must be below lease.ttl_seconds (${config.lease.ttl_seconds}), or the lease expires between renewals`,
      },
    ]);
  }
  return { config, file: parsed ? file : null, sources, repo, root };
}

interface ParsedFile {
  data: Config;
  lineOf(path: string[]): number | undefined;
}

function readConfigFile(file: string, mustExist: boolean): ParsedFile | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !mustExist) return null;
    throw errors.configInvalid(file, [{ key: '(file)', message: `cannot be read: ${(e as Error).message}` }]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw errors.configInvalid(
      file,
      doc.errors.map((e) => ({ key: '(yaml)', line: e.linePos?.[0]?.line, column: e.linePos?.[0]?.col, message: e.message.split('\n')[0] ?? e.message })),
    );
  }
  const data = (doc.toJS() ?? {}) as unknown;
  // A section whose entries are all commented out (`lease:` alone) parses as null: it is an empty section.
  if (data && typeof data === 'object') {
    for (const [key, value] of Object.entries(data)) {
      const type = configSchema.properties?.[key]?.type;
      if (value === null && (type === 'object' || type === 'array')) delete (data as Record<string, unknown>)[key];
    }
  }
  const lineOf = (path: string[]) => nodeLine(doc, lineCounter, path);
  if (data && typeof data === 'object' && 'mode' in data) {
    const mode = data.mode;
    if (mode !== 'off' && mode !== 'shadow') throw errors.configModeRefused(file, String(mode), lineOf(['mode']));
  }
  if (!validators.config(data)) {
    throw errors.configInvalid(
      file,
      describeErrors(validators.config.errors, data).map((p) => ({ key: p.field || '(top level)', line: lineOf(p.field.split('.')), message: p.message })),
    );
  }
  return { data, lineOf };
}

/** The line of the key or list item (or of the nearest parent that exists) in the YAML source. */
function nodeLine(doc: Document, lc: LineCounter, path: string[]): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const parent = n > 1 ? doc.getIn(path.slice(0, n - 1), true) : doc.contents;
    let offset: number | undefined;
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isScalar(it.key) && String(it.key.value) === path[n - 1]);
      offset = pair && isScalar(pair.key) ? pair.key.range?.[0] : undefined;
    } else if (isSeq(parent)) {
      const item: unknown = parent.items[Number(path[n - 1])];
      offset = isNode(item) ? item.range?.[0] : undefined;
    }
    if (offset !== undefined) return lc.linePos(offset).line;
  }
  return undefined;
}

function flatten(obj: object, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, flatten(v as object, key));
    else out[key] = v;
  }
  return out;
}

function unflatten(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const parts = key.split('.');
    let node = out;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1] as string] = value;
  }
  return out;
}
