/**
 * Import rules checked by `npm run lint:imports` (dependency-cruiser): no cycle between files,
 * and none between folders (`--collapse` in the script folds every file into its folder). Types
 * imported with `import type` do not count: they leave nothing behind at run time.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle: the layers are features -> dispatch / bus -> connections -> protocol.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'protocol-stands-alone',
      severity: 'error',
      comment: 'src/protocol is the wire format alone: the browser client loads it as it is.',
      from: { path: '^src/protocol/' },
      to: { pathNot: '^src/protocol/' },
    },
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
