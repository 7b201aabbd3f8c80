/** A Map used as an LRU of bounded size (a Map keeps insertion order: the first key is the oldest). */

/** Stores key → value as the newest entry, dropping the oldest beyond `limit`. */
export function remember<V>(map: Map<string, V>, key: string, value: V, limit: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > limit) map.delete(map.keys().next().value!);
}

/** The value of key, made the newest entry; undefined when absent. */
export function recall<V>(map: Map<string, V>, key: string): V | undefined {
  const value = map.get(key);
  if (value === undefined) return undefined;
  map.delete(key);
  map.set(key, value);
  return value;
}
