/**
 * Injection token of the gateway's resolved options (`ResolvedGatewayOptions`). A file of its
 * own, importing nothing: every layer injects the options, and only the module resolves them.
 */
export const GATEWAY_OPTIONS = Symbol('GATEWAY_OPTIONS');
