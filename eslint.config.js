// Typed linting needs TypeScript's JS API, which is why the project pins TypeScript 5.9 (see README).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'scripts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // The project service reads tsconfig.json: the same program the build type-checks.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      // node:test's describe/test return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'test', 'it', 'suite'] }] }],
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
  {
    // Tests hand an environment to what they run (test/support's testEnv, a Context, the CLI's io): never process.env.
    files: ['test/**/*.ts', 'fixtures/**/*.ts', 'bench/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "AssignmentExpression > MemberExpression.left[object.object.name='process'][object.property.name='env']", message: 'Do not write process.env in tests: pass an environment (testEnv, a Context, the CLI io).' },
        { selector: "AssignmentExpression > MemberExpression.left[object.name='process'][property.name='env']", message: 'Do not write process.env in tests: pass an environment (testEnv, a Context, the CLI io).' },
        { selector: "UnaryExpression[operator='delete'] > MemberExpression[object.object.name='process'][object.property.name='env']", message: 'Do not write process.env in tests: pass an environment (testEnv, a Context, the CLI io).' },
        { selector: "CallExpression[callee.object.name='Object'][callee.property.name='assign'] > MemberExpression.arguments:first-child[object.name='process'][property.name='env']", message: 'Do not write process.env in tests: pass an environment (testEnv, a Context, the CLI io).' },
      ],
    },
  },
  // This file is plain JavaScript outside the TypeScript program.
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
);
