/**
 * `git version`, asked once per git binary: the answer is kept per process and in a cache file keyed by
 * the binary's path, size, mtime and inode, so that a one-shot `drain` (a hook's) does not spawn it
 * every time, and an upgraded git is asked again.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { gitVersionCache as validateGitVersionCache } from '../contract/cache-validators.generated.js';
import type { Logger } from '../context.js';
import { readCache, writeCache } from '../store/atomic-json.js';
import { supportedVersion } from './parse.js';
import { runGit, type GitHandle } from './runner.js';

const known = new Map<string, string>();

/** The git that spawning `git` with this environment runs: the first executable `git` on its PATH. */
export function gitBinaryKey(env: Readonly<Record<string, string>>): string | null {
  for (const dir of (env.PATH ?? '').split(':')) {
    if (!isAbsolute(dir)) continue;
    const path = join(dir, 'git');
    try {
      accessSync(path, constants.X_OK);
      const st = statSync(path);
      if (st.isFile()) return `${path}\0${st.size}\0${st.mtimeMs}\0${st.ino}`;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * The supported version of the git `h` runs (E_GIT_TOO_OLD below 2.38). `cache`: where the answer is
 * kept between processes (schemas/git-version-cache.schema.json); a missing, unreadable or off-schema
 * file is only a miss.
 */
export async function gitVersion(h: GitHandle, cache: { file: string; logger: Logger }): Promise<string> {
  const key = gitBinaryKey(h.env);
  const remembered = key === null ? undefined : (known.get(key) ?? fromCache(cache.file, cache.logger, key));
  if (remembered !== undefined) {
    if (key !== null) known.set(key, remembered);
    return remembered;
  }
  const version = supportedVersion((await runGit(h, ['version'])).stdout);
  if (key !== null) {
    known.set(key, version);
    writeCache(cache.file, { schema_version: 1, binary: key, version }, validateGitVersionCache, cache.logger, 'git_version_cache_not_written');
  }
  return version;
}

function fromCache(file: string, logger: Logger, key: string): string | undefined {
  const cached = readCache(file, validateGitVersionCache, logger);
  if (cached?.binary !== key) return undefined;
  try {
    return supportedVersion(cached.version);
  } catch {
    // A git too old by the record: asked again, and refused then if it still is.
    return undefined;
  }
}
