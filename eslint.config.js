// Typed linting needs TypeScript's JS API, which is why the project pins TypeScript 5.9 (see README).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'scripts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // One module starts processes: every git call and check gets its environment, timeout and exit-code policy there.
    files: ['src/**/*.ts'],
    ignores: ['src/git/runner.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['node:child_process', 'child_process', 'simple-git'].map((name) => ({ name, message: 'only src/git/runner.ts starts processes: use its functions' })),
        },
      ],
    },
  },
);
