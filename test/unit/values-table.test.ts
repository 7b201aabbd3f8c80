/**
 * scripts/values-table.ts: the chart values table from a schema and a values.yaml (here small ones of the
 * test's own), and the marker comments it is written between.
 */
import {
  endMarker,
  markdownTable,
  startMarker,
  tableIn,
  valuesRows,
  withTable,
} from '../../scripts/values-table.ts';

const schema = {
  definitions: {
    path: { type: 'string', pattern: '^/' },
    resources: {
      type: 'object',
      properties: { requests: { type: 'object' }, limits: { type: 'object' } },
    },
  },
  properties: {
    logLevel: { type: 'string', enum: ['info', 'debug'], description: 'how much to log' },
    agent: {
      type: 'object',
      properties: {
        stateDir: { $ref: '#/definitions/path' },
        maxParallel: { oneOf: [{ type: 'integer' }, { const: 'auto' }], default: 'auto' },
        resources: { $ref: '#/definitions/resources' },
        extraArgs: { type: 'array', items: { type: 'string' } },
        dra: {
          type: 'object',
          properties: { enabled: { type: 'boolean' }, registryDir: { $ref: '#/definitions/path' } },
        },
      },
    },
  },
};

const valuesYaml = `# -- A header, apart from the keys: no key's comment.

logLevel: info
agent:
  # -- Where the agent keeps its records
  # on the node.
  stateDir: /var/lib/multinet
  maxParallel: 8
  resources:
    requests: { cpu: 50m }
  extraArgs: []
  # -- The DRA driver.
  dra:
    enabled: false
    # -- Where the kubelet looks | for sockets.
    registryDir: /var/lib/kubelet/plugins_registry
`;

describe('the chart values table', () => {
  it('has a row per described key: type, default (the schema first, else values.yaml) and description', () => {
    expect(valuesRows(schema, valuesYaml)).toEqual([
      { key: 'logLevel', type: '"info", "debug"', default: '"info"', description: 'how much to log' },
      {
        key: 'agent.stateDir',
        type: 'absolute path',
        default: '"/var/lib/multinet"',
        description: 'Where the agent keeps its records on the node.',
      },
      { key: 'agent.maxParallel', type: 'integer or "auto"', default: '"auto"', description: '' },
      // Nothing below resources is described: one row with its whole default.
      { key: 'agent.resources', type: 'object', default: '{"requests":{"cpu":"50m"}}', description: '' },
      { key: 'agent.extraArgs', type: 'list of string', default: '[]', description: '' },
      // x.enabled switches x on: x's comment describes it.
      { key: 'agent.dra.enabled', type: 'boolean', default: 'false', description: 'The DRA driver.' },
      {
        key: 'agent.dra.registryDir',
        type: 'absolute path',
        default: '"/var/lib/kubelet/plugins_registry"',
        description: 'Where the kubelet looks | for sockets.',
      },
    ]);
  });

  it('escapes the pipes of its cells', () => {
    const table = markdownTable([{ key: 'a', type: 'string', default: '"x|y"', description: 'one | two' }]);
    expect(table.split('\n')[2]).toBe('| `a` | string | `"x\\|y"` | one \\| two |');
  });

  it('is written between its markers, and a doc without them is named', () => {
    const doc = `# Values\n\n${startMarker}\nold table\n${endMarker}\n\nAfter.\n`;
    const updated = withTable(doc, '| new |', 'docs/x.md');
    expect(updated).toBe(`# Values\n\n${startMarker}\n\n| new |\n\n${endMarker}\n\nAfter.\n`);
    expect(tableIn(updated, 'docs/x.md')).toBe('| new |');
    expect(() => tableIn('# nothing here', 'docs/x.md')).toThrow(/^docs\/x\.md: no values table between/);
  });
});
