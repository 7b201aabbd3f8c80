/**
 * The serving certificate as the TLS server and the renewal logic see it, and the facts read from PEM
 * (node:crypto's X509Certificate): validity, names, issuer, whether a key belongs to it.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';

export interface ServingCertificate {
  /** The leaf certificate (and any intermediates), PEM. */
  readonly certPem: string;
  readonly keyPem: string;
  /** The CAs clients must trust (the ValidatingWebhookConfiguration's caBundle); unknown in files mode without a CA file. */
  readonly caBundlePem?: string | undefined;
}

export interface CertificateFacts {
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serialNumber: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

const pemBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g;

/** PEM text ending in exactly one newline, so that bundles concatenate and compare cleanly. */
export function normalizePem(pem: string): string {
  return `${pem.trimEnd()}\n`;
}

/** The certificates of a PEM bundle, each as its own PEM text. */
export function splitPem(bundle: string): string[] {
  return (bundle.match(pemBlock) ?? []).map(normalizePem);
}

function sans(cert: X509Certificate): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const entry of (cert.subjectAltName ?? '').split(', ')) {
    if (entry.startsWith('DNS:')) dnsNames.push(entry.slice(4));
    else if (entry.startsWith('IP Address:')) ipAddresses.push(entry.slice(11).toLowerCase());
  }
  return { dnsNames, ipAddresses };
}

/** Facts of the first certificate in `pem`; throws when it is not a certificate. */
export function inspectCertificate(pem: string): CertificateFacts {
  const cert = new X509Certificate(pem);
  return {
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    serialNumber: cert.serialNumber.toLowerCase(),
    ...sans(cert),
  };
}

/** Facts, or undefined when the text is not a certificate. */
export function tryInspect(pem: string | undefined): CertificateFacts | undefined {
  if (!pem) return undefined;
  try {
    return inspectCertificate(pem);
  } catch {
    return undefined;
  }
}

/** True when less than `fraction` of the validity period is left (cert-manager renews at 1/3). */
export function renewalDue(
  facts: Pick<CertificateFacts, 'notBefore' | 'notAfter'>,
  now: number,
  fraction = 1 / 3,
): boolean {
  const total = facts.notAfter.getTime() - facts.notBefore.getTime();
  return facts.notAfter.getTime() - now < total * fraction;
}

/** True when the certificate names every wanted DNS name and IP address. */
export function coversNames(
  facts: CertificateFacts,
  dnsNames: readonly string[],
  ipAddresses: readonly string[],
): boolean {
  return (
    dnsNames.every((n) => facts.dnsNames.includes(n)) &&
    ipAddresses.every((ip) => facts.ipAddresses.includes(ip.toLowerCase()))
  );
}

/** True when `keyPem` is the private key of the certificate. */
export function keyMatches(certPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** True when `caPem` issued and signed the certificate. */
export function signedBy(certPem: string, caPem: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}
