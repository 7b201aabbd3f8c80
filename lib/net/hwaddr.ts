/** Hardware addresses: colon- or dash-separated hex bytes (as Go's net.ParseMAC), with a byte count. */
const byteGroup = /^[0-9a-fA-F]{2}$/;

/** Returns the bytes of a MAC-style address, or undefined when it is not of that form. */
function parseHardwareAddress(text: string): number[] | undefined {
  if (typeof text !== 'string' || text.length > 64) return undefined;
  const separator = text.includes('-') ? '-' : ':';
  const groups = text.split(separator);
  if (groups.length < 2 || !groups.every((g) => byteGroup.test(g))) return undefined;
  return groups.map((g) => parseInt(g, 16));
}

/** True when text is a hardware address of exactly `bytes` bytes (6 for Ethernet MAC, 8 for InfiniBand GUID). */
export function isHardwareAddress(text: string, bytes: number): boolean {
  return parseHardwareAddress(text)?.length === bytes;
}
