/**
 * Reads Kubernetes manifests the way kubectl does: YAML or JSON, several documents separated by
 * `---`, and `kind: List` (or any `*List`) unwrapped into its items. Hostile input (binary data,
 * huge, deep or alias-bombed documents) gets a ValidationError, never an exception from the parser.
 */
import yaml from 'js-yaml';
import { ValidationError } from '../errors.ts';
import { checkShape, isObject, type JsonObject, type ShapeLimits } from '../safe-json.ts';

const manifestLimits: ShapeLimits = { maxBytes: 16 * 1024 * 1024, maxDepth: 64, maxNodes: 1_000_000 };

export interface ManifestDocument {
  /** 0-based position of the document in the input (after unwrapping lists: "2.items[3]"). */
  readonly position: string;
  readonly object: JsonObject;
}

export function parseManifests(text: string, limits: ShapeLimits = manifestLimits): ManifestDocument[] {
  if (Buffer.byteLength(text, 'utf8') > limits.maxBytes) {
    throw ValidationError.single('', `input is larger than ${limits.maxBytes} bytes`);
  }
  if (text.includes('\u0000')) throw ValidationError.single('', 'input is binary data, not YAML or JSON');
  let documents: unknown[];
  try {
    documents = yaml.loadAll(text, undefined, { json: true });
  } catch (err) {
    const reason =
      err instanceof yaml.YAMLException
        ? `${err.reason} (line ${err.mark.line + 1}, column ${err.mark.column + 1})`
        : String(err);
    throw ValidationError.single('', `not valid YAML or JSON: ${reason}`);
  }
  const out: ManifestDocument[] = [];
  documents.forEach((document, index) => {
    if (document === null || document === undefined) return; // empty document between separators
    checkShape(document, `document ${index}`, limits);
    if (!isObject(document)) {
      throw ValidationError.single(
        `document ${index}`,
        'must be a Kubernetes object (a mapping with apiVersion and kind)',
      );
    }
    const kind = document.kind;
    if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(document.items)) {
      document.items.forEach((item, i) => {
        if (!isObject(item))
          throw ValidationError.single(`document ${index}.items[${i}]`, 'must be a Kubernetes object');
        out.push({ position: `${index}.items[${i}]`, object: item });
      });
      return;
    }
    out.push({ position: String(index), object: document });
  });
  return out;
}
