/**
 * `git version`, asked once per git binary: the answer is kept per process and in a cache file keyed by
 * the binary's path, size, mtime and inode, so that a one-shot `drain` (a hook's) does not spawn it
 * every time, and an upgraded git is asked again.
 */
import { accessSync, constants, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { writeJsonAtomic } from '../store/atomic-json.js';
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

interface CacheFile {
  binary: string;
  version: string;
}

/**
 * The supported version of the git `h` runs (E_GIT_TOO_OLD below 2.38). `cacheFile`: where the answer
 * is kept between processes; a missing or unreadable file is only a miss.
 */
export async function gitVersion(h: GitHandle, cacheFile?: string): Promise<string> {
  const key = gitBinaryKey(h.env);
  const remembered = key === null ? undefined : (known.get(key) ?? (cacheFile ? fromCache(cacheFile, key) : undefined));
  if (remembered !== undefined) {
    if (key !== null) known.set(key, remembered);
    return remembered;
  }
  const version = supportedVersion((await runGit(h, ['version'])).stdout);
  if (key !== null) {
    known.set(key, version);
    if (cacheFile) {
      try {
        mkdirSync(dirname(cacheFile), { recursive: true });
        writeJsonAtomic(cacheFile, { binary: key, version } satisfies CacheFile);
      } catch {
        // Only a cache: the next process asks git again.
      }
    }
  }
  return version;
}

function fromCache(file: string, key: string): string | undefined {
  try {
    const cached = JSON.parse(readFileSync(file, 'utf8')) as Partial<CacheFile>;
    return cached.binary === key && typeof cached.version === 'string' ? supportedVersion(cached.version) : undefined;
  } catch {
    return undefined;
  }
}
