// Only entry points touch `process` (env, argv, exit, kill, getuid, signals, stdio): the project's rule (docs/architecture.md),
// shared by eslint.config.js and test/unit/layering.test.ts (which checks that it catches a violation).
const message = 'Only entry points (cmd/) touch process: take what you need as a parameter.';

/** Files allowed to touch process: the entry points, benchmarks (scripts of their own) and tests. */
export const processAllowed = ['cmd/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts', '**/*.test.ts'];

export const processRules = {
  'no-restricted-globals': ['error', { name: 'process', message }],
  'no-restricted-imports': [
    'error',
    {
      paths: [
        { name: 'node:process', message },
        { name: 'process', message },
      ],
    },
  ],
};
