// Jest runs the TypeScript sources as ESM (ts-jest, transpile only; `npm run lint` type-checks).
// Projects: `unit` (no privileges, no network), `controlplane` (real kube-apiserver + etcd, started once
// per run by globalSetup), `netns` (root: real network namespaces and CNI plugins), `node` (root: a real
// kubelet node), `nodes` (root: three real kubelet nodes in namespaces of their own), and `anchors` (the
// comparisons with Multus and Flannel, built from ../shared/anchors: not part of `npm test`, which needs
// nothing outside the repository; `npm run test:anchors`, which .ci/run adds where the anchors are).
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
      // files named *.cluster.test.ts anywhere, next to the code they test, plus the harness's own tests;
      // and the chart's static checks (test/e2e/*.test.ts), which need the helm this tier's harness builds
      testMatch: [
        '<rootDir>/test/controlplane/**/*.test.ts',
        '<rootDir>/**/*.cluster.test.ts',
        '<rootDir>/test/e2e/*.test.ts',
      ],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/bench/anchors/', '<rootDir>/test/anchors/'],
      globalSetup: '<rootDir>/test/controlplane/global-setup.ts',
      globalTeardown: '<rootDir>/test/controlplane/global-teardown.ts',
      testTimeout: 30_000,
    },
    {
      ...base,
      // root: a real kubelet, containerd and runc on this machine (dev/node). One node runs per machine (a
      // lock in /run): each file starts its own and waits for the others'; jest runs the files one by one.
      displayName: 'node',
      testMatch: ['<rootDir>/test/node/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/'],
      globalSetup: '<rootDir>/test/netns/global-setup.ts',
    },
    {
      ...base,
      // root: three real kubelet nodes, each in network and mount namespaces of its own (dev/cluster),
      // multinet installed with helm; one cluster at a time (the machine lock, shared with the node tier).
      displayName: 'nodes',
      testMatch: ['<rootDir>/test/nodes/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/'],
      globalSetup: '<rootDir>/test/netns/global-setup.ts',
    },
    {
      ...base,
      // The comparisons with the anchors (Multus thick, Flannel's plugin), built from ../shared/anchors;
      // they fail loudly without it. The control plane of the controlplane project, started again.
      displayName: 'anchors',
      testMatch: ['<rootDir>/test/anchors/**/*.test.ts', '<rootDir>/bench/anchors/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/'],
      globalSetup: '<rootDir>/test/controlplane/global-setup.ts',
      globalTeardown: '<rootDir>/test/controlplane/global-teardown.ts',
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
