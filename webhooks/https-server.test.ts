/** The HTTPS server: TLS 1.2 minimum, and certificates swapped under load without a failed request. */
import { connect } from 'node:tls';
import { listenTcp } from '../platform/nodejs/listen.ts';
import { createCa, issueCertificate, type CertificateAuthority } from '../platform/pki.ts';
import { ReloadingHttpsServer } from './https-server.ts';
import { httpsGet } from '../test/doubles/https-get.ts';
import { inspectCertificate, type ServingCertificate } from './certs/serving-cert.ts';

let ca: CertificateAuthority;
let server: ReloadingHttpsServer;
let port: number;

async function serving(): Promise<ServingCertificate> {
  const cert = await issueCertificate(ca, {
    commonName: 'webhook',
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
    validityDays: 1,
  });
  return { certPem: cert.certPem, keyPem: cert.keyPem };
}

beforeAll(async () => {
  ca = await createCa('https-server test CA', 1);
  server = new ReloadingHttpsServer((_req, res) => res.end('ok'), await serving());
  port = await listenTcp(server.server, '127.0.0.1', 0);
});

afterAll(async () => {
  await server.close(100);
});

/** One request on a fresh connection (a new TLS handshake each time). */
const get = (): Promise<string> => httpsGet(port, ca.certPem);

function servedSerial(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem }, () => {
      resolve(socket.getPeerCertificate().serialNumber.toLowerCase());
      socket.end();
    });
    socket.on('error', reject);
  });
}

test('refuses TLS 1.1', async () => {
  await expect(
    new Promise((resolve, reject) => {
      const socket = connect(
        { host: '127.0.0.1', port, ca: ca.certPem, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' },
        () => resolve(socket.getProtocol()),
      );
      socket.on('error', reject);
    }),
  ).rejects.toThrow();
});

test('swaps the certificate while requests flow: none fails, new connections get the new one', async () => {
  const next = [await serving(), await serving()];
  let stop = false;
  let ok = 0;
  const failures: unknown[] = [];
  // Resolves once `more` requests more than now have been answered: the swaps happen under load.
  let waiter: { at: number; resolve: () => void } | undefined;
  const answered = (more: number): Promise<void> =>
    new Promise((resolve) => (waiter = { at: ok + more, resolve }));
  const worker = async (): Promise<void> => {
    while (!stop) {
      try {
        if ((await get()) === 'ok') ok++;
        if (waiter && ok >= waiter.at) {
          waiter.resolve();
          waiter = undefined;
        }
      } catch (err) {
        failures.push(err);
      }
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  for (const cert of next) {
    await answered(10);
    server.load(cert);
    expect(await servedSerial()).toBe(inspectCertificate(cert.certPem).serialNumber);
  }
  await answered(10);
  stop = true;
  await Promise.all(workers);
  expect(failures).toEqual([]);
  expect(ok).toBeGreaterThan(20);
  expect(server.certificateLoads).toBe(3);
});

test('a key that does not match its certificate is refused and the old pair keeps serving', async () => {
  const [a, b] = [await serving(), await serving()];
  expect(() => server.load({ certPem: a.certPem, keyPem: b.keyPem })).toThrow();
  expect(await get()).toBe('ok');
});
