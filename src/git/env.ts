/**
 * The one environment policy of every process the tool starts (git and `checks`): the caller's
 * environment — the Context's, never process.env — without what would redirect git to another
 * repository, object store or config, or only matters to interactive git; then what the tool itself
 * sets.
 */
import { SCRUBBED } from '../contract/git-environment.js';

/**
 * Config a parent git hands its children for one invocation (`git -c x=y commit` running a hook that
 * runs us): never the user's standing config, which git reads from its files as usual.
 */
const PARENT_CONFIG = /^(GIT_CONFIG_PARAMETERS|GIT_CONFIG_COUNT|GIT_CONFIG_KEY_\d+|GIT_CONFIG_VALUE_\d+)$/;

/** Variables only interactive git reads (editors, pagers, external diff, templates). */
const INTERACTIVE_ONLY = ['EDITOR', 'GIT_EDITOR', 'GIT_SEQUENCE_EDITOR', 'PAGER', 'GIT_PAGER', 'GIT_EXTERNAL_DIFF', 'GIT_TEMPLATE_DIR'];

export type Env = Readonly<Record<string, string>>;

/**
 * `base` without the variables above, plus: optional locks off (a read never refreshes the canonical
 * index) and no prompts (a fetch that needs a password fails instead of waiting forever).
 */
export function processEnvironment(base: NodeJS.ProcessEnv, extra: Record<string, string> = {}): Env {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) {
    if (v !== undefined && !SCRUBBED.includes(k) && !INTERACTIVE_ONLY.includes(k) && !PARENT_CONFIG.test(k)) env[k] = v;
  }
  return { ...env, GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0', ...extra };
}

/**
 * A `GIT_ALTERNATE_OBJECT_DIRECTORIES` value: colon-separated, and a path that contains a colon or
 * starts with a double quote written as a C-quoted string, as git reads it.
 */
export function alternatesList(paths: readonly string[]): string {
  return paths.map((p) => (p.includes(':') || p.startsWith('"') ? JSON.stringify(p) : p)).join(':');
}
