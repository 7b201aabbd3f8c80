// Jest runs the TypeScript sources as ESM (ts-jest, transpile only; `npm run lint` type-checks).
// Projects: `unit` (no privileges, no network), `controlplane` (real kube-apiserver + etcd, started once
// per run by globalSetup), `netns` (root: real network namespaces and CNI plugins), `node` (root: a real
// kubelet node).
const transform = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: { rewriteRelativeImportExtensions: false } }],
};
const base = { testEnvironment: 'node', extensionsToTreatAsEsm: ['.ts'], transform };

/** @type {import('jest').Config} */
export default {
  // testTimeout is a global option (projects cannot set their own): generous for the real-process tiers.
  testTimeout: 60_000,
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  projects: [
    {
      ...base,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/{lib,platform,cli,cni,spawner,agent,controllers,webhooks,dev,playground}/**/*.test.ts',
        '<rootDir>/test/unit/**/*.test.ts',
        '<rootDir>/test/chaos/**/*.test.ts',
      ],
      testPathIgnorePatterns: ['/node_modules/', '\\.cluster\\.test\\.ts$', '\\.netns\\.test\\.ts$'],
    },
    {
      ...base,
      displayName: 'controlplane',
      // files named *.cluster.test.ts anywhere, next to the code they test, plus the harness's own tests
      testMatch: ['<rootDir>/test/controlplane/**/*.test.ts', '<rootDir>/**/*.cluster.test.ts'],
      testPathIgnorePatterns: ['/node_modules/'],
      globalSetup: '<rootDir>/test/controlplane/global-setup.ts',
      globalTeardown: '<rootDir>/test/controlplane/global-teardown.ts',
      testTimeout: 30_000,
    },
    {
      ...base,
      // root: a real kubelet, containerd and runc on this machine (dev/node); one node at a time, so the
      // tier is one file whose parts run in order.
      displayName: 'node',
      testMatch: ['<rootDir>/test/node/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/'],
      globalSetup: '<rootDir>/test/netns/global-setup.ts',
    },
    {
      ...base,
      displayName: 'netns',
      // test/chaos/*.netns.test.ts: the chaos tier's experiments on a real node (the rest is in unit)
      testMatch: ['<rootDir>/test/netns/**/*.test.ts', '<rootDir>/test/chaos/**/*.netns.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '\\.cluster\\.test\\.ts$'],
      globalSetup: '<rootDir>/test/netns/global-setup.ts',
      testTimeout: 60_000,
    },
  ],
};
