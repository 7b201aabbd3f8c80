import {
  X509Certificate,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
} from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createCa, createKeyPair, issueCertificate, type CertificateAuthority } from './pki.ts';
import { httpsGet } from '../test/doubles/https-get.ts';

const dayMs = 24 * 60 * 60 * 1000;

let ca: CertificateAuthority;
beforeAll(async () => {
  ca = await createCa('multinet test CA', 2);
});

describe('createCa', () => {
  it('makes a self-signed CA certificate with its PKCS#8 key', () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe('CN=multinet test CA');
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(cert.checkPrivateKey(createPrivateKey(ca.keyPem))).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('is valid from a little before now for the requested number of days', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const other = await createCa('dated', 10, now);
    const cert = new X509Certificate(other.certPem);
    expect(new Date(cert.validFrom).getTime()).toBeLessThan(now.getTime());
    expect(new Date(cert.validTo).getTime()).toBe(now.getTime() + 10 * dayMs);
    expect(other.notAfter.getTime()).toBe(now.getTime() + 10 * dayMs);
  });

  it('rejects a non-positive validity and an empty name', async () => {
    await expect(createCa('x', 0)).rejects.toThrow(/validityDays/);
    await expect(createCa('', 1)).rejects.toThrow(/commonName/);
  });
});

describe('issueCertificate', () => {
  it('issues a server certificate that chains to the CA and carries the SANs', async () => {
    const leaf = await issueCertificate(ca, {
      commonName: 'kube-apiserver',
      dnsNames: ['localhost', 'webhook.multinet-system.svc'],
      ipAddresses: ['127.0.0.1', '::1'],
      usage: 'server',
      validityDays: 1,
    });
    const caCert = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.ca).toBe(false);
    expect(caCert.checkIssued(cert)).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.issuer).toBe(caCert.subject);
    expect(cert.checkPrivateKey(createPrivateKey(leaf.keyPem))).toBe(true);
    expect(cert.subjectAltName).toBe(
      'DNS:localhost, DNS:webhook.multinet-system.svc, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('example.org')).toBeUndefined();
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    const validTo = new Date(cert.validTo).getTime();
    expect(validTo).toBeGreaterThan(Date.now() + dayMs - 60_000);
    expect(validTo).toBeLessThanOrEqual(Date.now() + dayMs);
    expect(leaf.serialNumber).not.toBe(ca.serialNumber);
  });

  it('puts organizations into the subject (Kubernetes groups) and sets client usage', async () => {
    const leaf = await issueCertificate(ca, {
      commonName: 'admin',
      organizations: ['system:masters'],
      usage: 'client',
      validityDays: 1,
    });
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.subject.split('\n').sort()).toEqual(['CN=admin', 'O=system:masters']);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(cert.subjectAltName).toBeUndefined();
  });

  it('sets both usages for "both"', async () => {
    const leaf = await issueCertificate(ca, { commonName: 'peer', usage: 'both', validityDays: 1 });
    expect(new X509Certificate(leaf.certPem).keyUsage?.sort()).toEqual([
      '1.3.6.1.5.5.7.3.1',
      '1.3.6.1.5.5.7.3.2',
    ]);
  });

  it('does not chain to another CA', async () => {
    const other = await createCa('other CA', 1);
    const leaf = await issueCertificate(other, { commonName: 'x', usage: 'server', validityDays: 1 });
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.checkIssued(new X509Certificate(ca.certPem))).toBe(false);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(false);
  });

  it('rejects a bad IP address and a CA key that is not ECDSA P-256', async () => {
    await expect(
      issueCertificate(ca, { commonName: 'x', ipAddresses: ['localhost'], usage: 'server', validityDays: 1 }),
    ).rejects.toThrow(/not an IP address/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const bad = { ...ca, keyPem: rsa.export({ type: 'pkcs8', format: 'pem' }).toString() };
    await expect(
      issueCertificate(bad, { commonName: 'x', usage: 'server', validityDays: 1 }),
    ).rejects.toThrow(/ECDSA P-256/);
  });
});

describe('createKeyPair', () => {
  it('returns a matching PKCS#8 private key and SPKI public key', async () => {
    const pair = await createKeyPair();
    expect(pair.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(pair.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const data = Buffer.from('token');
    const signature = sign('sha256', data, createPrivateKey(pair.privateKeyPem));
    expect(verify('sha256', data, createPublicKey(pair.publicKeyPem), signature)).toBe(true);
  });
});

describe('TLS with the issued certificates', () => {
  it('a node:https server and a client authenticate each other on 127.0.0.1', async () => {
    const server = await issueCertificate(ca, {
      commonName: 'test server',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
      validityDays: 1,
    });
    const client = await issueCertificate(ca, {
      commonName: 'test client',
      usage: 'client',
      validityDays: 1,
    });
    const https = createServer(
      {
        cert: server.certPem,
        key: server.keyPem,
        ca: ca.certPem,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        res.end(`hello ${String(peer.subject.CN)}`);
      },
    );
    https.listen(0, '127.0.0.1');
    await once(https, 'listening');
    try {
      const { port } = https.address() as AddressInfo;
      const get = (options: { cert?: string; key?: string; servername?: string }): Promise<string> =>
        httpsGet(port, ca.certPem, options);
      await expect(get({ cert: client.certPem, key: client.keyPem })).resolves.toBe('hello test client');
      await expect(get({ cert: client.certPem, key: client.keyPem, servername: 'localhost' })).resolves.toBe(
        'hello test client',
      );
      // The server's certificate does not name example.org, and a client without a certificate is refused.
      await expect(
        get({ cert: client.certPem, key: client.keyPem, servername: 'example.org' }),
      ).rejects.toThrow(/altnames/);
      await expect(get({})).rejects.toThrow();
    } finally {
      https.close();
    }
  });
});
