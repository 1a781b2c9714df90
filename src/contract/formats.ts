/**
 * The schemas' custom formats. The generated validators (validators.generated.ts) call these by
 * name, so a format's rule lives in one function that other code can use too.
 */
import { isValidBranchName } from './refname.js';
import { isTimestamp } from './timestamp.js';

export const formats: Readonly<Record<'git-branch' | 'date-time', (value: string) => boolean>> = {
  'git-branch': isValidBranchName,
  'date-time': isTimestamp,
};
