/**
 * git check-ref-format rules for a branch name (the part after refs/heads/), plus the branch-specific
 * rules of `git check-ref-format --branch`: not starting with '-', not 'HEAD'. Pure, so that both the
 * schema format `git-branch` and the git module use the same rule.
 */
export function branchNameProblem(name: string): string | null {
  if (name.length === 0) return 'is empty';
  if (name.startsWith('-')) return "starts with '-'";
  if (name === 'HEAD' || name === '@') return `is the reserved name ${name}`;
  if (name.startsWith('/') || name.endsWith('/')) return "begins or ends with '/'";
  if (name.endsWith('.')) return "ends with '.'";
  if (name.includes('//')) return "contains '//'";
  if (name.includes('..')) return "contains '..'";
  if (name.includes('@{')) return "contains '@{'";
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return 'contains a space, a control character or one of ~ ^ : ? * [ \\';
  for (const component of name.split('/')) {
    if (component.startsWith('.')) return `has a component starting with '.' (${component})`;
    if (component.endsWith('.lock')) return `has a component ending with '.lock' (${component})`;
  }
  return null;
}

/**
 * The same rules as one regular expression: validating every event's branch is a hot path, and the
 * step-by-step function above is only needed to say what is wrong.
 */
// eslint-disable-next-line no-control-regex
const VALID_BRANCH = /^(?!-)(?!\/)(?!.*\/$)(?!.*\.$)(?!.*\/\/)(?!.*\.\.)(?!.*@\{)(?!(?:.*\/)?\.)(?!.*\.lock(?:\/|$))(?!(?:HEAD|@)$)[^\x00-\x20\x7f~^:?*[\\]+$/;

export const isValidBranchName = (name: string): boolean => VALID_BRANCH.test(name);
