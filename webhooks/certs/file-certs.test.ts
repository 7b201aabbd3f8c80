/** Certificates from files: loaded at start, reloaded on change, an inconsistent pair ignored. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import winston from 'winston';
import { createCa, issueCertificate, type CertificateAuthority } from '../../platform/pki.ts';
import { FileCerts } from './file-certs.ts';
import type { ServingCertificate } from './serving-cert.ts';

const log = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });
let ca: CertificateAuthority;
let dir: string;

beforeAll(async () => {
  ca = await createCa('file-certs test CA', 1);
  dir = await mkdtemp(join(tmpdir(), 'multinet-file-certs-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writePair(): Promise<{ certPem: string; keyPem: string }> {
  const cert = await issueCertificate(ca, {
    commonName: 'w',
    dnsNames: ['w'],
    usage: 'server',
    validityDays: 1,
  });
  await writeFile(join(dir, 'tls.crt'), cert.certPem);
  await writeFile(join(dir, 'tls.key'), cert.keyPem);
  return cert;
}

test('loads, reloads on a change in the watched directory, and keeps the old pair when the new one is broken', async () => {
  const first = await writePair();
  await writeFile(join(dir, 'ca.crt'), ca.certPem);
  const watched: Array<() => void> = [];
  const certs = new FileCerts(
    { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), caFile: join(dir, 'ca.crt') },
    {
      readFile: (p) => readFile(p, 'utf8'),
      watchDir: (d, onChange) => {
        expect(d).toBe(dir);
        watched.push(onChange);
        return () => undefined;
      },
      log,
    },
  );
  const changes: ServingCertificate[] = [];
  certs.onChange((c) => changes.push(c));
  expect(await certs.start()).toEqual({
    certPem: first.certPem,
    keyPem: first.keyPem,
    caBundlePem: ca.certPem,
  });
  expect(watched).toHaveLength(1);

  const second = await writePair();
  watched[0]!();
  await certs.reload();
  expect(changes.map((c) => c.certPem)).toEqual([second.certPem]);

  // Half-written update: a new certificate with the old key. Ignored.
  const third = await issueCertificate(ca, { commonName: 'w', usage: 'server', validityDays: 1 });
  await writeFile(join(dir, 'tls.crt'), third.certPem);
  await certs.reload();
  expect(certs.current()?.certPem).toBe(second.certPem);
  await writeFile(join(dir, 'tls.key'), third.keyPem);
  await certs.reload();
  expect(certs.current()?.certPem).toBe(third.certPem);
  await certs.reload(); // unchanged: no event
  expect(changes).toHaveLength(2);
  certs.stop();
});

test('start fails when the files are not a usable pair', async () => {
  await writeFile(join(dir, 'bad.crt'), 'not a certificate');
  const certs = new FileCerts(
    { certFile: join(dir, 'bad.crt'), keyFile: join(dir, 'tls.key') },
    { readFile: (p) => readFile(p, 'utf8'), watchDir: () => () => undefined, log },
  );
  await expect(certs.start()).rejects.toThrow(/holds no PEM certificate/);
});
