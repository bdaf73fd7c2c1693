import { ConfigurableModuleBuilder } from '@nestjs/common';
import { EventsGateway } from './events.gateway.js';
import type { GatewayOptions } from './gateway.options.js';

/** Choices that shape the module itself, so they are given next to the options, not in them. */
export interface GatewayModuleExtras {
  /**
   * Serve the standard events (echo, broadcast, join, leave, publish). Default `true`; with
   * `false` only the host's own gateways answer, with everything else (auth, limits, rooms and
   * broadcast services, metrics) unchanged.
   */
  standardEvents?: boolean;
}

/**
 * `forRoot` / `forRootAsync`, the options token and their types, from Nest's builder. Module
 * definition lives here, apart from the options, so that the options file imports nothing that
 * imports it back.
 */
export const {
  ConfigurableModuleClass: ConfigurableGatewayModule,
  MODULE_OPTIONS_TOKEN: GATEWAY_MODULE_OPTIONS,
  OPTIONS_TYPE: GATEWAY_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: GATEWAY_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<GatewayOptions>()
  .setClassMethodName('forRoot')
  .setExtras<GatewayModuleExtras>(
    { standardEvents: true },
    (definition, extras) => ({
      ...definition,
      providers: [
        ...(definition.providers ?? []),
        ...(extras.standardEvents === false ? [] : [EventsGateway]),
      ],
    }),
  )
  .build();
