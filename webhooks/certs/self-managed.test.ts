/** Self-managed certificates against an in-memory Secret, webhook configuration and clock. */
import winston from 'winston';
import type { Clock } from '../../lib/ports.ts';
import { inspectCertificate, normalizePem, signedBy, splitPem } from './serving-cert.ts';
import {
  ConflictError,
  SelfManagedCerts,
  secretKeys,
  type BundleSync,
  type CaBundleTarget,
  type SecretData,
  type SecretStore,
  type StoredSecret,
} from './self-managed.ts';

const log = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });
const dayMs = 24 * 60 * 60 * 1000;

class MemorySecret implements SecretStore {
  stored: StoredSecret | undefined;
  writes = 0;
  private version = 0;
  /** Makes the next write lose a race against `other`. */
  raceWith: SecretData | undefined;

  read(): Promise<StoredSecret | undefined> {
    return Promise.resolve(this.stored);
  }

  create(data: SecretData): Promise<StoredSecret> {
    if (this.takeRace() || this.stored) return Promise.reject(new ConflictError());
    return Promise.resolve(this.write(data));
  }

  replace(data: SecretData, resourceVersion: string): Promise<StoredSecret> {
    if (this.takeRace() || this.stored?.resourceVersion !== resourceVersion)
      return Promise.reject(new ConflictError());
    return Promise.resolve(this.write(data));
  }

  private takeRace(): boolean {
    if (!this.raceWith) return false;
    this.write(this.raceWith);
    this.raceWith = undefined;
    return true;
  }

  private write(data: SecretData): StoredSecret {
    this.writes++;
    this.stored = { data: { ...data }, resourceVersion: String(++this.version) };
    return this.stored;
  }
}

class MemoryBundle implements CaBundleTarget {
  bundle: string | undefined;
  exists = true;
  sync(caBundlePem: string): Promise<BundleSync> {
    if (!this.exists) return Promise.resolve('missing');
    if (this.bundle === caBundlePem) return Promise.resolve('unchanged');
    this.bundle = caBundlePem;
    return Promise.resolve('updated');
  }
}

function clockAt(start: number): Clock & { t: number; slept: number[] } {
  const clock = {
    t: start,
    slept: [] as number[],
    now: () => clock.t,
    sleep: (ms: number) => {
      clock.slept.push(ms);
      return Promise.resolve();
    },
  };
  return clock;
}

function setup(store = new MemorySecret(), target = new MemoryBundle(), clock = clockAt(Date.now())) {
  const certs = new SelfManagedCerts(
    {
      commonName: 'multinet-webhook.multinet.svc',
      dnsNames: ['multinet-webhook.multinet.svc'],
      ipAddresses: [],
      caValidityDays: 30,
      certValidityDays: 9,
      caRolloverDelayMs: 1234,
    },
    { store, target, clock, log },
  );
  return { certs, store, target, clock };
}

test('creates a CA and a serving certificate, stores them and writes the caBundle', async () => {
  const { certs, store, target } = setup();
  const cert = await certs.reconcile();
  expect(store.writes).toBe(1);
  const data = store.stored!.data;
  expect(Object.keys(data).sort()).toEqual(Object.values(secretKeys).sort());
  expect(cert.certPem).toBe(data[secretKeys.cert]);
  expect(signedBy(cert.certPem, data[secretKeys.caCert]!)).toBe(true);
  expect(inspectCertificate(cert.certPem).dnsNames).toEqual(['multinet-webhook.multinet.svc']);
  expect(target.bundle).toBe(data[secretKeys.bundle]);
  expect(splitPem(target.bundle!)).toEqual([normalizePem(data[secretKeys.caCert]!)]);
  expect(certs.current()).toEqual(cert);
});

test('reuses a valid Secret: a restart or a second replica serves the same certificate', async () => {
  const first = setup();
  const cert = await first.certs.reconcile();
  const second = setup(first.store, new MemoryBundle());
  expect(await second.certs.reconcile()).toEqual(cert);
  expect(first.store.writes).toBe(1);
});

test('renews the serving certificate when less than a third of its validity is left, keeping the CA', async () => {
  const { certs, store, clock } = setup();
  const before = await certs.reconcile();
  const changes: string[] = [];
  certs.onChange((c) => changes.push(c.certPem));
  clock.t += 5 * dayMs; // 4 of 9 days left: still more than a third
  expect((await certs.reconcile()).certPem).toBe(before.certPem);
  clock.t += 1.5 * dayMs; // 2.5 of 9 days left
  const after = await certs.reconcile();
  expect(after.certPem).not.toBe(before.certPem);
  expect(after.caBundlePem).toBe(before.caBundlePem);
  expect(changes).toEqual([after.certPem]);
  expect(store.writes).toBe(2);
  expect(clock.slept).toEqual([]); // same CA: no need to wait for the API server
});

test('renews the CA before it expires: the bundle trusts both, and the new certificate waits for it', async () => {
  const { certs, target, clock } = setup();
  const before = await certs.reconcile();
  clock.t += 21 * dayMs; // 9 of 30 days left
  const after = await certs.reconcile();
  const bundle = splitPem(after.caBundlePem!);
  expect(bundle).toHaveLength(2);
  expect(bundle[1]).toBe(before.caBundlePem);
  expect(signedBy(after.certPem, bundle[0]!)).toBe(true);
  expect(target.bundle).toBe(after.caBundlePem);
  expect(clock.slept).toEqual([1234]);
  clock.t += 10 * dayMs; // the old CA has expired: dropped from the bundle
  expect(splitPem((await certs.reconcile()).caBundlePem!)).toEqual([bundle[0]]);
});

test('rotate() issues a new certificate from the same CA on request', async () => {
  const { certs } = setup();
  const before = await certs.reconcile();
  const after = await certs.rotate();
  expect(inspectCertificate(after.certPem).serialNumber).not.toBe(
    inspectCertificate(before.certPem).serialNumber,
  );
  expect(after.caBundlePem).toBe(before.caBundlePem);
});

test('reissues a certificate for new names, and replaces material that is broken', async () => {
  const { certs, store } = setup();
  await certs.reconcile();
  const other = new SelfManagedCerts(
    {
      commonName: 'x',
      dnsNames: ['other.multinet.svc'],
      ipAddresses: ['127.0.0.1'],
      caValidityDays: 30,
      certValidityDays: 9,
    },
    { store, clock: clockAt(Date.now()), log },
  );
  const renamed = await other.reconcile();
  expect(inspectCertificate(renamed.certPem)).toMatchObject({
    dnsNames: ['other.multinet.svc'],
    ipAddresses: ['127.0.0.1'],
  });
  store.stored = {
    data: { ...store.stored!.data, [secretKeys.key]: 'garbage', [secretKeys.caKey]: 'garbage' },
    resourceVersion: '99',
  };
  const repaired = await other.reconcile();
  expect(splitPem(repaired.caBundlePem!)).toHaveLength(2); // a new CA, and the old one is still trusted
});

test("a replica that loses the race uses the winner's Secret", async () => {
  const winner = setup();
  await winner.certs.reconcile();
  const winnerData = winner.store.stored!.data;
  const loser = setup();
  loser.store.raceWith = winnerData;
  const cert = await loser.certs.reconcile();
  expect(cert.certPem).toBe(winnerData[secretKeys.cert]);
  expect(loser.store.writes).toBe(1); // only the winner's write
});

test('a missing webhook configuration is retried on the next check', async () => {
  const { certs, target } = setup();
  target.exists = false;
  const cert = await certs.reconcile();
  expect(target.bundle).toBeUndefined();
  target.exists = true;
  await certs.reconcile();
  expect(target.bundle).toBe(cert.caBundlePem);
  target.bundle = 'reset by helm';
  await certs.resyncBundle();
  expect(target.bundle).toBe(cert.caBundlePem);
});
