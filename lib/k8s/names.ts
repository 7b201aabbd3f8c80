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
