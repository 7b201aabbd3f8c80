/** Kubernetes object name rules (apimachinery's validation package). */
const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Returns why `value` is not a DNS-1123 label (namespace names, NAD names), or undefined when it is one. */
export function dns1123LabelError(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > 63) return `must be no more than 63 characters (got ${value.length})`;
  if (!dns1123Label.test(value)) {
    return `${JSON.stringify(value)} must be a DNS-1123 label: lower case alphanumeric characters or '-', starting and ending with an alphanumeric character`;
  }
  return undefined;
}

/** Returns why `value` is not a DNS-1123 subdomain (object names in general), or undefined. */
export function dns1123SubdomainError(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > 253) return `must be no more than 253 characters (got ${value.length})`;
  if (!dns1123Subdomain.test(value)) {
    return `${JSON.stringify(value)} must be a DNS-1123 subdomain: lower case alphanumeric characters, '-' or '.', starting and ending with an alphanumeric character`;
  }
  return undefined;
}

const qualifiedNamePart = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/**
 * Returns why `value` is not the name of an extended resource a device plugin can advertise
 * (`vendor.example/name`: a DNS-1123 subdomain, '/', a name of at most 63 characters; not in the
 * kubernetes.io domain), or undefined.
 */
export function extendedResourceNameError(value: string): string | undefined {
  const slash = value.indexOf('/');
  if (slash < 0 || value.indexOf('/', slash + 1) >= 0) {
    return `${JSON.stringify(value)} must be a device plugin resource name: <vendor domain>/<name>, e.g. "intel.com/sriov_netdevice"`;
  }
  const prefix = value.slice(0, slash);
  const name = value.slice(slash + 1);
  const prefixError = dns1123SubdomainError(prefix);
  if (prefixError) return `the domain of ${JSON.stringify(value)} ${prefixError.replace(/^"[^"]*" /, '')}`;
  if (prefix === 'kubernetes.io' || prefix.endsWith('.kubernetes.io')) {
    return `${JSON.stringify(value)} is in the kubernetes.io domain, which no device plugin may use`;
  }
  if (name.length === 0 || name.length > 63 || !qualifiedNamePart.test(name)) {
    return `the name part of ${JSON.stringify(value)} must be 1-63 characters: alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric`;
  }
  return undefined;
}
