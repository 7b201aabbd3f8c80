/**
 * The layering rules (docs/architecture.md), checked by `npm run lint:layers` (part of `npm test`):
 *   lib/        the pure domain: imports only lib/ (no Node.js I/O module, no platform, no Kubernetes client)
 *   platform/   adapters: never import the parts built on them (agent, controllers, webhooks, cli, cmd)
 *   agent/, controllers/, webhooks/  independent parts: import lib/ and platform/, not each other
 *   product code (lib, platform, agent, controllers, webhooks, cli, cmd) never imports the harness (dev/,
 *   playground/: what stands a cluster up on one machine), test/ or bench/; nothing imports cmd/; no
 *   circular imports. The production image is built from the product layers only (tsconfig.build.json).
 * `process` (env, exit, kill, getuid, signals) is eslint's rule (eslint.config.js): only entry points touch it.
 * test/unit/layering.test.ts runs these rules on a fixture tree that breaks each one.
 */
const tests = '(^|/)test/|\\.test\\.ts$';
/** Node.js core modules the domain may use: hashing and byte/text helpers, no I/O. */
const pureCore = '^(node:)?(crypto|buffer|util|url|path|assert)$';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Circular imports: split the shared part into its own module.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'lib-is-pure',
      severity: 'error',
      comment:
        'lib/ is the domain: it imports only lib/, pure packages (ajv, js-yaml) and Node modules without I/O (crypto, buffer, util, url, path, assert): no fs, net, http, child_process, os, process, no platform/, no Kubernetes client.',
      from: { path: '^lib/', pathNot: tests },
      to: {
        pathNot: ['^lib/', '^node_modules/(ajv|js-yaml)/', pureCore],
      },
    },
    {
      name: 'platform-below-parts',
      severity: 'error',
      comment:
        'platform/ holds adapters; the agent, controller, webhook and CLI are built on it, not the other way round.',
      from: { path: '^platform/', pathNot: tests },
      to: { path: '^(agent|controllers|webhooks|cli|cmd|playground|dev)/' },
    },
    {
      name: 'parts-are-independent',
      severity: 'error',
      comment:
        'agent/, controllers/ and webhooks/ share code through lib/ or platform/, never by importing each other.',
      from: { path: '^(agent|controllers|webhooks)/', pathNot: tests },
      to: { path: '^(agent|controllers|webhooks|cli|cmd|playground)/', pathNot: '^$1/' },
    },
    {
      name: 'product-never-imports-tests',
      severity: 'error',
      comment: 'Product code never imports test code or benchmarks (test doubles do not ship).',
      from: { pathNot: [tests, '^bench/'] },
      to: { path: [tests, '^bench/'] },
    },
    {
      name: 'product-never-imports-harness',
      severity: 'error',
      comment:
        'The harness (dev/, playground/) stands clusters up for users, tests and benchmarks; the product (what the image holds) never imports it.',
      from: { path: '^(lib|platform|agent|controllers|webhooks|cli|cmd)/', pathNot: tests },
      to: { path: '^(dev|playground)/' },
    },
    {
      name: 'nothing-imports-cmd',
      severity: 'error',
      comment: 'cmd/ holds the entry points; nothing imports them.',
      from: {},
      to: { path: '^cmd/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|coverage)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.cjs', '.mjs', '.json'],
    },
  },
};
