/**
 * The effective configuration: `.shadow-integrator.yml` with the schema's defaults filled in by its
 * validator (schemas/config.schema.json is the source of truth for them too), where each value came
 * from, and the state directory resolved and checked. Every problem names the key, its line and the
 * allowed values.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readFileSync, readSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Document, LineCounter } from 'yaml';
import { silentLogger } from '../context.js';
import { errors, isShadowError } from '../contract/errors.js';
import type { Config, ConfigCache, ResolvedConfig } from '../contract/types.generated.js';
import { describeErrors, validators } from '../contract/validate.js';
import { readCache, writeCache } from '../store/atomic-json.js';
import { findRepo, stateDirProblem, type RepoLayout } from './repo.js';

export type { ResolvedConfig } from '../contract/types.generated.js';
export type Check = ResolvedConfig['checks'][number];

/** What the config's validator leaves: every key that has a default is present; state_dir and check names may not be. */
type Filled = Omit<ResolvedConfig, 'state_dir' | 'checks'> & Pick<Config, 'state_dir'> & { checks: (Omit<Check, 'name'> & { name?: string })[] };

export const CONFIG_FILE = '.shadow-integrator.yml';

/**
 * A config is a few hundred bytes. Past this it is not one (a log, a binary, a mistaken --config),
 * and reading it whole could exhaust memory: it is refused unparsed.
 */
export const MAX_CONFIG_BYTES = 256 * 1024;

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

export function loadConfig(opts: { cwd: string; configPath?: string | undefined; stateDir?: string | undefined }): LoadedConfig {
  const repo = findRepo(opts.cwd);
  const root = repo.mainWorktree ?? repo.commonDir;
  const file = opts.configPath ? resolve(opts.cwd, opts.configPath) : join(root, CONFIG_FILE);
  const text = readConfigText(file, Boolean(opts.configPath));
  const defaultStateDir = join(repo.commonDir, 'shadow-integrator');
  const cache = join(defaultStateDir, 'cache', 'config.json');
  const parsed = text === null ? null : parseConfig(file, text, cache);

  // The defaults of an empty config give every key, in the schema's order, whatever the file's order.
  const defaults: Record<string, unknown> = {};
  validators.config(defaults); // an empty config is valid: this only fills the defaults
  const filled = inOrderOf(defaults, parsed?.data ?? {}) as Filled;
  const stateDir = opts.stateDir ?? filled.state_dir;
  const config: ResolvedConfig = {
    ...filled,
    checks: filled.checks.map((c, i) => ({ name: c.name ?? `check ${i + 1}`, run: c.run, timeout_seconds: c.timeout_seconds })),
    state_dir:
      stateDir === undefined ? defaultStateDir
      : isAbsolute(stateDir) ? stateDir
      : resolve(opts.stateDir ? opts.cwd : root, stateDir),
  };

  const sources: Record<string, string> = {};
  for (const key of Object.keys(flatten(config))) {
    sources[key] = parsed?.set.has(key) ? `${file}:${parsed.lineOf(key.split('.')) ?? '?'}` : 'default';
  }
  if (opts.stateDir) sources.state_dir = '--state-dir';
  else if (!parsed?.set.has('state_dir')) sources.state_dir = 'default (<git common dir>/shadow-integrator)';

  if (config.lease.renew_every_seconds >= config.lease.ttl_seconds) {
    throw errors.configInvalid(file, [
      {
        key: 'lease.renew_every_seconds',
        line: parsed?.lineOf(['lease', 'renew_every_seconds']),
        message: `must be below lease.ttl_seconds (${config.lease.ttl_seconds}), or the lease expires between renewals`,
      },
    ]);
  }
  const refused = stateDirProblem(config.state_dir, repo);
  if (refused) {
    if (opts.stateDir) throw errors.optionInvalid('--state-dir', opts.stateDir, refused);
    throw errors.configInvalid(file, [{ key: 'state_dir', line: parsed?.lineOf(['state_dir']), message: refused }]);
  }
  // Kept only in the default state directory, and only once it exists: a config that names another
  // one must not find the tool writing where it said not to, and a command never creates it for this.
  if (parsed?.fresh && config.state_dir === defaultStateDir && existsSync(defaultStateDir)) writeCache(cache, parsed.fresh, validators.configCache, silentLogger, 'config_cache_not_written');
  return { config, file: text === null ? null : file, sources, repo, root };
}

/** `data` laid over `template`: the template's keys first and in its order, at every level. */
function inOrderOf(template: object, data: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...template };
  for (const [key, value] of Object.entries(data)) {
    const under = out[key];
    out[key] = isPlainObject(value) && isPlainObject(under) ? inOrderOf(under, value) : value;
  }
  return out;
}

const isPlainObject = (v: unknown): v is object => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The config file's text, or null when the default file does not exist. Only a regular file is read,
 * and at most MAX_CONFIG_BYTES of it: `--config /dev/zero` would otherwise read until memory runs
 * out, and a FIFO would block forever (it is opened non-blocking, then refused as not a file).
 */
function readConfigText(file: string, mustExist: boolean): string | null {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !mustExist) return null;
    throw errors.configInvalid(file, [{ key: '(file)', message: `cannot be read: ${(e as Error).message}` }]);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw errors.configInvalid(file, [{ key: '(file)', message: `is ${fileKind(st)}: a config is read only from a regular file` }]);
    // Up to one byte past the bound, whatever fstat said: a file that grew since is refused as well.
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (let n = 1; n > 0 && length < buf.length; ) {
      n = readSync(fd, buf, length, buf.length - length, null);
      length += n;
    }
    if (length > MAX_CONFIG_BYTES) {
      throw errors.configInvalid(file, [{ key: '(file)', message: `is larger than ${MAX_CONFIG_BYTES} bytes: a config file is a few hundred bytes, this is not one` }]);
    }
    return buf.subarray(0, length).toString('utf8');
  } catch (e) {
    if (isShadowError(e)) throw e;
    throw errors.configInvalid(file, [{ key: '(file)', message: `cannot be read: ${(e as Error).message}` }]);
  } finally {
    closeSync(fd);
  }
}

function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

type Yaml = typeof import('yaml');
let yaml: Yaml | undefined;
/**
 * yaml takes ~30 ms to load: only a command that finds a config file cache/config.json does not
 * answer for pays for it (see parseConfig). Loaded through
 * require because loadConfig is synchronous; on Node, `import 'yaml'` resolves to this same CommonJS
 * build.
 */
const loadYaml = (): Yaml => (yaml ??= createRequire(import.meta.url)('yaml') as Yaml);

/** A YAML alias may be expanded this many times at most: a config has no use for more. */
const MAX_ALIAS_COUNT = 100;

interface ParsedFile {
  /** The file's values, validated, with the schema's defaults filled. */
  data: Config;
  /** Dotted keys the file sets (a list is one key). */
  set: Set<string>;
  lineOf(path: string[]): number | undefined;
  /** What to keep in cache/config.json when the YAML parser ran (null when the cache answered, or it cannot be kept). */
  fresh: ConfigCache | null;
}

/**
 * The file's values: from cache/config.json when it holds this very text, parsed by this very yaml
 * (no parser loaded), else from the YAML parser. Either way validated here; a config the cache
 * answers that does not validate is parsed again, so every problem is reported with its line.
 */
function parseConfig(file: string, text: string, cachePath: string): ParsedFile {
  const yamlVersion = yamlPackageVersion();
  const kept = yamlVersion === null ? null : readCache(cachePath, validators.configCache, silentLogger);
  if (kept && kept.file === file && kept.text === text && kept.yaml === yamlVersion) {
    // A line the cache does not hold (a problem's, not a set key's) comes from the parser after all.
    let parsedAgain: ReturnType<typeof parseYaml> | undefined;
    const lineOf = (path: string[]) => {
      const key = path.join('.');
      return Object.hasOwn(kept.lines, key) ? kept.lines[key] : (parsedAgain ??= parseYaml(file, text)).lineOf(path);
    };
    const checked = checkValues(file, kept.data, lineOf);
    if (checked) return { ...checked, lineOf, fresh: null };
  }
  const { data, lineOf } = parseYaml(file, text);
  // Kept as parsed, before validation fills defaults: only plain JSON round-trips through the cache.
  const copy = isPlainObject(data) ? (JSON.parse(JSON.stringify(data)) as Record<string, unknown>) : null;
  const raw = copy && isDeepStrictEqual(copy, data) ? copy : null;
  const checked = checkValues(file, data, lineOf);
  if (!checked) throw invalidValues(file, data, lineOf);
  const lines: Record<string, number> = {};
  for (const key of checked.set) {
    const line = lineOf(key.split('.'));
    if (line !== undefined) lines[key] = line;
  }
  const fresh = raw && yamlVersion !== null ? { schema_version: 1 as const, file, text, yaml: yamlVersion, data: raw, lines } : null;
  return { ...checked, lineOf, fresh };
}

function parseYaml(file: string, text: string): { data: unknown; lineOf: (path: string[]) => number | undefined } {
  const { LineCounter, parseDocument } = loadYaml();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw errors.configInvalid(
      file,
      doc.errors.map((e) => ({ key: '(yaml)', line: e.linePos?.[0]?.line, column: e.linePos?.[0]?.col, message: e.message.split('\n')[0] ?? e.message })),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (e) {
    // An alias bomb: a few lines whose aliases expand to billions of nodes.
    throw errors.configInvalid(file, [{ key: '(yaml)', message: `cannot be expanded: ${(e as Error).message} (at most ${MAX_ALIAS_COUNT} alias expansions)` }]);
  }
  return { data, lineOf: (path) => nodeLine(doc, lineCounter, path) };
}

/** The installed yaml's version, read from its package.json (cheap beside loading it); null when unreadable. */
function yamlPackageVersion(): string | null {
  try {
    const pkg = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('yaml/package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' && pkg.version !== '' ? pkg.version : null;
  } catch {
    return null;
  }
}

/** The mode refused, the set keys, and the values validated (defaults filled); null when they do not validate. */
function checkValues(file: string, data: unknown, lineOf: (path: string[]) => number | undefined): { data: Config; set: Set<string> } | null {
  if (isPlainObject(data) && 'mode' in data) {
    const mode = data.mode;
    if (mode !== 'off' && mode !== 'shadow') throw errors.configModeRefused(file, String(mode), lineOf(['mode']));
  }
  const set = new Set(isPlainObject(data) ? Object.keys(flatten(data)) : []);
  return validate(data) ? { data, set } : null;
}

/** The validator's problems with `data` (just refused by `checkValues`), each with its line. */
function invalidValues(file: string, data: unknown, lineOf: (path: string[]) => number | undefined): Error {
  return errors.configInvalid(
    file,
    describeErrors(validators.config.errors, data).map((p) => ({ key: p.field || '(top level)', line: lineOf(p.field.split('.')), message: p.message })),
  );
}

/**
 * The config's validator, which fills the defaults; a section whose entries are all commented out
 * (`lease:` alone) parses as null and is taken as an empty section, not a type error.
 */
function validate(data: unknown): data is Config {
  if (validators.config(data)) return true;
  if (!isPlainObject(data)) return false;
  const emptySections = (validators.config.errors ?? []).filter(
    (e) => e.keyword === 'type' && /^\/[^/]+$/.test(e.instancePath) && ['object', 'array'].includes(String(e.params.type)) && (data as Record<string, unknown>)[e.instancePath.slice(1)] === null,
  );
  if (emptySections.length === 0) return false;
  for (const e of emptySections) delete (data as Record<string, unknown>)[e.instancePath.slice(1)];
  return validators.config(data);
}

/** The line of the key or list item (or of the nearest parent that exists) in the YAML source. */
function nodeLine(doc: Document, lc: LineCounter, path: string[]): number | undefined {
  const { isMap, isNode, isScalar, isSeq } = loadYaml();
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
    if (isPlainObject(v)) Object.assign(out, flatten(v, key));
    else out[key] = v;
  }
  return out;
}
