/**
 * The benchmark's server process: the webhook's real HTTPS server, app and validators over an in-memory
 * NAD catalog (no API server), with a certificate from platform/pki. Prints "PORT <n>" and "CA <base64>" on
 * stdout when listening; stops on SIGTERM or when stdin closes (the parent went away).
 */
import winston from 'winston';
import { parseManifests } from '../lib/k8s/manifests.ts';
import type { NadObject } from '../platform/kube/informers.ts';
import { listenTcp } from '../platform/nodejs/listen.ts';
import { createCa, issueCertificate } from '../platform/pki.ts';
import { createWebhookApp } from '../webhooks/app.ts';
import { ReloadingHttpsServer } from '../webhooks/https-server.ts';
import { createWebhookMetrics } from '../webhooks/metrics.ts';
import { NadCatalog } from '../webhooks/nad-catalog.ts';
import { validateNadReview } from '../webhooks/nad.validator.ts';
import { NodeStateIndex } from '../webhooks/node-report.ts';
import { defaultPodPolicy, validatePodReview } from '../webhooks/pod.validator.ts';
import { defaultMaxBodyBytes } from '../webhooks/review-adapter.ts';
import { StaticNadSource } from '../test/doubles/static-nad-source.ts';
import { readFixture } from '../test/fixtures.ts';

const objects = [
  ...parseManifests(readFixture('seed', 'macvlan-conf.nad.yaml')),
  ...parseManifests(readFixture('admission', 'world', 'base.yaml')),
]
  .map((d) => d.object as unknown as NadObject)
  .filter((o) => o.kind === 'NetworkAttachmentDefinition')
  .map((o, i) => ({
    ...o,
    metadata: { namespace: 'default', uid: `uid-${i}`, resourceVersion: '1', ...o.metadata },
  }));
const catalog = new NadCatalog(new StaticNadSource(objects));
for (const o of objects) catalog.evaluate(o); // as the informer's add handler does
const nodes = new NodeStateIndex(() => []);
const metrics = createWebhookMetrics();
// Info level, as deployed: allowed reviews are logged at debug, so nothing is written on this path.
const log = winston.createLogger({
  level: 'info',
  transports: [new winston.transports.Console({ silent: true })],
});
const app = createWebhookApp({
  validators: {
    nads: (request) => validateNadReview(request, { nads: catalog, nodes }),
    pods: (request) => validatePodReview(request, { nads: catalog, nodes, policy: defaultPodPolicy }),
  },
  log,
  metrics,
  probes: { ready: {}, registry: metrics.registry },
  maxBodyBytes: defaultMaxBodyBytes,
});
const ca = await createCa('multinet bench CA', 1);
const cert = await issueCertificate(ca, {
  commonName: 'bench',
  ipAddresses: ['127.0.0.1'],
  usage: 'server',
  validityDays: 1,
});
const server = new ReloadingHttpsServer(app, { certPem: cert.certPem, keyPem: cert.keyPem });
const port = await listenTcp(server.server, '127.0.0.1', 0);
process.stdout.write(`PORT ${port}\nCA ${Buffer.from(ca.certPem).toString('base64')}\n`);
const stop = (): void => void server.close(200).then(() => process.exit(0));
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
