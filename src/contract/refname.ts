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
 * The same rules in one pass over the characters: validating every event's branch is a hot path (a
 * regular expression with a lookahead per rule scans the name once per rule), and the step-by-step
 * function above is only needed to say what is wrong.
 */
export function isValidBranchName(name: string): boolean {
  const n = name.length;
  if (n === 0 || name === 'HEAD' || name === '@') return false;
  let prev = 47; // '/': the start of the name begins a component
  let componentStart = 0;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 126 /* ~ */ || c === 94 /* ^ */ || c === 58 /* : */ || c === 63 /* ? */ || c === 42 /* * */ || c === 91 /* [ */ || c === 92 /* \ */) return false;
    if (c === 46 /* . */ && (prev === 46 || prev === 47)) return false; // '..', or a component starting with '.'
    if (c === 123 /* { */ && prev === 64 /* @ */) return false;
    if (c === 47 /* / */) {
      if (prev === 47 || endsWithLock(name, componentStart, i)) return false; // '//' (or a leading '/'), or 'x.lock/'
      componentStart = i + 1;
    }
    prev = c;
  }
  // Not starting with '-'; not ending with '/', '.', or a component ending with '.lock'.
  return name.charCodeAt(0) !== 45 && prev !== 47 && prev !== 46 && !endsWithLock(name, componentStart, n);
}

function endsWithLock(name: string, from: number, to: number): boolean {
  return to - from >= 5 && name.startsWith('.lock', to - 5);
}
