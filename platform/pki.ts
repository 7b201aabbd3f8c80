/**
 * Small X.509 helpers: a certificate authority and the certificates it issues (ECDSA P-256, SHA-256),
 * as PEM text. Used by the test control plane and by the admission webhook for its serving certificate.
 * Pure functions of their arguments and the clock: no files, no environment.
 */
// @peculiar/x509 v2 resolves its algorithms through tsyringe, which needs a Reflect metadata polyfill
// loaded before it (see the library's README).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KeyObject, createPrivateKey, createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';

/** What a leaf certificate may be used for: TLS server, TLS client, or both (extended key usage). */
export type CertificateUsage = 'server' | 'client' | 'both';

/** A certificate and its private key, as PEM text. */
export interface CertificateAndKey {
  /** The certificate, PEM "CERTIFICATE". */
  readonly certPem: string;
  /** The private key, PEM PKCS#8 "PRIVATE KEY". */
  readonly keyPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Hexadecimal serial number. */
  readonly serialNumber: string;
}

/**
 * A certificate authority: its self-signed certificate and the key it signs with. Plain data, so it can
 * be stored (for example in a Secret) and used again; `certPem` is what clients trust (a caBundle).
 */
export type CertificateAuthority = CertificateAndKey;

export interface CertificateRequest {
  readonly commonName: string;
  /** Subject O= entries; for Kubernetes client certificates these are the user's groups. */
  readonly organizations?: readonly string[];
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly usage: CertificateUsage;
  readonly validityDays: number;
}

/** A key pair as PEM text, for example a service-account token signing key. */
export interface KeyPairPem {
  /** PEM PKCS#8 "PRIVATE KEY". */
  readonly privateKeyPem: string;
  /** PEM SPKI "PUBLIC KEY". */
  readonly publicKeyPem: string;
}

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const crypto = webcrypto;
const ecdsa = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' } as const;
/** Certificates start a little in the past so that peers with a slightly slow clock accept them. */
const clockSkewMs = 5 * 60 * 1000;
const dayMs = 24 * 60 * 60 * 1000;

async function generateKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
}

function privateKeyPem(key: CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString();
}

function validity(validityDays: number, now: Date): { notBefore: Date; notAfter: Date } {
  if (!Number.isFinite(validityDays) || validityDays <= 0) {
    throw new RangeError(`validityDays must be a positive number, got ${validityDays}`);
  }
  return {
    notBefore: new Date(now.getTime() - clockSkewMs),
    notAfter: new Date(now.getTime() + validityDays * dayMs),
  };
}

/** A positive 128-bit serial number (RFC 5280 allows up to 20 octets; the top bit must be clear). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

function subjectName(commonName: string, organizations: readonly string[] = []): x509.JsonName {
  if (commonName === '') throw new RangeError('commonName must not be empty');
  return [...organizations.map((o) => ({ O: [o] })), { CN: [commonName] }];
}

function result(cert: x509.X509Certificate, key: CryptoKey): CertificateAndKey {
  return {
    certPem: cert.toString('pem'),
    keyPem: privateKeyPem(key),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    serialNumber: cert.serialNumber,
  };
}

/** Creates a self-signed CA certificate (path length 0: it signs leaf certificates only). */
export async function createCa(
  commonName: string,
  validityDays: number,
  now: Date = new Date(),
): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: subjectName(commonName),
      ...validity(validityDays, now),
      signingAlgorithm,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return result(cert, keys.privateKey);
}

function importCaKey(keyPem: string): CryptoKey {
  const key = createPrivateKey(keyPem);
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new TypeError('the CA key must be an ECDSA P-256 key (as made by createCa)');
  }
  return key.toCryptoKey(ecdsa, false, ['sign']);
}

function extendedKeyUsages(usage: CertificateUsage): string[] {
  switch (usage) {
    case 'server':
      return [x509.ExtendedKeyUsage.serverAuth];
    case 'client':
      return [x509.ExtendedKeyUsage.clientAuth];
    case 'both':
      return [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
  }
}

function subjectAltNames(dnsNames: readonly string[], ipAddresses: readonly string[]): x509.JsonGeneralNames {
  for (const ip of ipAddresses) {
    if (isIP(ip) === 0) throw new RangeError(`not an IP address: ${JSON.stringify(ip)}`);
  }
  return [
    ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
  ];
}

/** Issues a leaf certificate for a fresh key, signed by `ca`. */
export async function issueCertificate(
  ca: CertificateAuthority,
  request: CertificateRequest,
  now: Date = new Date(),
): Promise<CertificateAndKey> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = importCaKey(ca.keyPem);
  const keys = await generateKeys();
  const names = subjectAltNames(request.dnsNames ?? [], request.ipAddresses ?? []);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(extendedKeyUsages(request.usage), false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
    await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false, crypto),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: subjectName(request.commonName, request.organizations),
      issuer: caCert.subjectName,
      ...validity(request.validityDays, now),
      signingAlgorithm,
      publicKey: keys.publicKey,
      signingKey: caKey,
      extensions,
    },
    crypto,
  );
  return result(cert, keys.privateKey);
}

/** Creates an ECDSA P-256 key pair, for example to sign and verify service-account tokens. */
export async function createKeyPair(): Promise<KeyPairPem> {
  const keys = await generateKeys();
  return {
    privateKeyPem: privateKeyPem(keys.privateKey),
    publicKeyPem: createPublicKey(KeyObject.from(keys.privateKey))
      .export({ type: 'spki', format: 'pem' })
      .toString(),
  };
}
