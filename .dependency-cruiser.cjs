/**
 * Import rules, checked by `npm run lint:imports` (dependency-cruiser) in CI. Imports point one
 * way, from the features down to the wire protocol:
 *
 *   console (the web console: it plugs its WebSocket into the server, so it sits on top)
 *   composition (gateway.module, the adapter, the server, EventsGateway, the options)
 *     -> features (echo, broadcast, rooms) and admission
 *     -> history, presence -> telemetry -> dispatch -> auth -> bus -> connections -> protocol
 *
 * Types imported with `import type` do not count: they leave nothing behind at run time.
 */
const GATEWAY_FOLDERS = [
  'admission',
  'contract',
  'auth',
  'broadcast',
  'bus',
  'connections',
  'dispatch',
  'echo',
  'history',
  'presence',
  'rooms',
  'telemetry',
];
const folder = (name) => `^src/gateway/${name}/`;
const anyOf = (names) => `^src/gateway/(${names.join('|')})/`;

/** What each folder may not import: every folder above it. */
const ABOVE = {
  connections: [
    'console',
    'contract',
    'admission',
    'auth',
    'broadcast',
    'bus',
    'dispatch',
    'echo',
    'history',
    'presence',
    'rooms',
    'telemetry',
  ],
  bus: [
    'console',
    'contract',
    'admission',
    'auth',
    'broadcast',
    'dispatch',
    'echo',
    'history',
    'presence',
    'rooms',
    'telemetry',
  ],
  auth: [
    'console',
    'contract',
    'admission',
    'broadcast',
    'dispatch',
    'echo',
    'history',
    'presence',
    'rooms',
    'telemetry',
  ],
  dispatch: [
    'console',
    'contract',
    'admission',
    'broadcast',
    'echo',
    'history',
    'presence',
    'rooms',
    'telemetry',
  ],
  telemetry: [
    'console',
    'contract',
    'admission',
    'broadcast',
    'echo',
    'history',
    'presence',
    'rooms',
  ],
  history: [
    'console',
    'contract',
    'admission',
    'broadcast',
    'echo',
    'presence',
    'rooms',
  ],
  presence: [
    'console',
    'contract',
    'admission',
    'broadcast',
    'echo',
    'history',
    'rooms',
  ],
  admission: ['console', 'contract', 'broadcast', 'dispatch', 'echo', 'rooms'],
  echo: ['console', 'contract', 'admission', 'broadcast', 'rooms'],
  broadcast: ['console', 'contract', 'admission', 'echo', 'rooms'],
  rooms: ['console', 'contract', 'admission', 'broadcast', 'echo'],
  // The AsyncAPI document reads Nest's metadata of the gateways, not the features' code.
  contract: [
    'console',
    ...GATEWAY_FOLDERS.filter((name) => name !== 'contract'),
  ],
};

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle between files.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'protocol-stands-alone',
      severity: 'error',
      comment:
        'src/protocol is the wire format alone: the browser client loads it as it is.',
      from: { path: '^src/protocol/' },
      to: { pathNot: '^src/protocol/' },
    },
    {
      name: 'client-on-the-protocol-only',
      severity: 'error',
      comment:
        'The client runs in browsers: it imports its own files and src/protocol (the CLI may use Node and the config).',
      from: { path: '^src/client/', pathNot: '^src/client/cli\\.ts$' },
      to: { path: '^src/', pathNot: '^src/(client|protocol)/' },
    },
    {
      name: 'library-without-the-service',
      severity: 'error',
      comment:
        'GatewayModule is a library: it never imports the service that configures it.',
      from: { path: '^src/(gateway|protocol)/' },
      to: {
        path: '^src/(config|logging|health|http)/|^src/(main|app\\.module|setup-app)\\.ts$',
      },
    },
    {
      name: 'library-without-the-service-packages',
      severity: 'error',
      comment:
        'The packages only the service runs on (its logger, configuration, health checks, HTTP platform) are not installed with the library: package.json has them as devDependencies.',
      from: { path: '^src/(gateway|protocol|client)/|^src/index\\.ts$' },
      to: {
        path: '(^|/)node_modules/(nestjs-pino|pino|pino-http|pino-pretty|@nestjs/config|@nestjs/terminus|@nestjs/platform-express)/',
      },
    },
    {
      name: 'composition-on-top',
      severity: 'error',
      comment: 'The gateway folders never import the files that compose them.',
      from: { path: anyOf(GATEWAY_FOLDERS) },
      to: {
        path: '^src/gateway/(gateway\\.module|gateway\\.module-definition|gateway\\.adapter|gateway\\.server|events\\.gateway|gateway\\.options)\\.ts$',
      },
    },
    {
      name: 'console-options-alone',
      severity: 'error',
      comment:
        "The options import the console's option types and parsing: that file imports nothing of the gateway.",
      from: { path: '^src/gateway/console/console-options\\.ts$' },
      to: { path: '^src/' },
    },
    ...Object.entries(ABOVE).map(([name, above]) => ({
      name: `${name}-points-down`,
      severity: 'error',
      comment: `src/gateway/${name} imports only the layers below it.`,
      from: { path: folder(name) },
      to: { path: anyOf(above) },
    })),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.spec\\.ts$' },
    tsPreCompilationDeps: false,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
