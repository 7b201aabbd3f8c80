/**
 * The controller's verdict on a NAD's spec.config, from lib/nad.ts (the same validation the webhook
 * and the agent use), plus the plugin types for status.pluginType. Verdicts are cached by the config's
 * hash, since reconciles repeat far more often than configs change.
 */
import { checkNad, pluginTypeOf, type NetworkAttachmentDefinition } from '../lib/nad.ts';
import type { ConfigVerdict } from './nad-status.ts';

export { pluginTypeOf };

export function judgeConfig(nad: NetworkAttachmentDefinition): ConfigVerdict {
  const pluginType = pluginTypeOf(nad.spec?.config);
  const check = checkNad(nad, nad.metadata.namespace ?? 'default');
  if (!check.accepted) return { accepted: false, pluginType, problems: check.problems };
  return {
    accepted: true,
    pluginType,
    warnings: check.warnings,
    ...(check.config === undefined ? { emptyConfigName: check.name } : {}),
  };
}

/** judgeConfig with a cache per NAD key, valid while the config text stays the same. */
export class VerdictCache {
  private readonly entries = new Map<string, { config: string | undefined; verdict: ConfigVerdict }>();

  get(key: string, nad: NetworkAttachmentDefinition): ConfigVerdict {
    const config = nad.spec?.config;
    const cached = this.entries.get(key);
    if (cached && cached.config === config) return cached.verdict;
    const verdict = judgeConfig(nad);
    this.entries.set(key, { config, verdict });
    return verdict;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
