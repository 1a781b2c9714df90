/**
 * Environment variables that would point git at another repository, index or object store than the
 * one asked about. The git module drops them from every git process it starts, and the hook scripts
 * unset them before starting shadow-integrator (git sets several in a hook's environment). Here, below
 * both, so that neither has to import the other.
 */
export const SCRUBBED: readonly string[] = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_NAMESPACE',
  'GIT_COMMON_DIR',
  'GIT_PREFIX',
  'GIT_CEILING_DIRECTORIES',
  'GIT_QUARANTINE_PATH',
];
