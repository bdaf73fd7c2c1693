import type { Type } from '@nestjs/common';
import {
  EXCEPTION_FILTERS_METADATA,
  PIPES_METADATA,
} from '@nestjs/common/constants.js';
import { MetadataScanner, type DiscoveryService } from '@nestjs/core';
import {
  GATEWAY_METADATA,
  MESSAGE_MAPPING_METADATA,
} from '@nestjs/websockets/constants.js';
import { GatewayExceptionFilter } from './gateway-exception.filter.js';
import { GatewayValidationPipe } from './gateway-validation.pipe.js';

/**
 * A gateway class that Nest would serve without the gateway's exception filter or validation
 * pipe: its failed requests would be answered by Nest's own `exception` message and then look
 * like a success, and its DTOs would reach handlers unvalidated.
 */
export class UndeclaredGatewayError extends Error {
  constructor(readonly classes: readonly string[]) {
    super(
      `${classes.join(', ')}: declare ${classes.length > 1 ? 'these gateways' : 'this gateway'} with @Gateway() from nest-ws-gateway instead of @WebSocketGateway(). ` +
        'Nest applies no global exception filter to gateways, so without it a failed request would be answered as a success.',
    );
    this.name = 'UndeclaredGatewayError';
  }
}

// UseFilters/UsePipes accept a class or an instance; a host may also name a subclass.
function names(kind: Type<unknown>, list: unknown): boolean {
  return (
    Array.isArray(list) &&
    list.some(
      (e) =>
        e === kind ||
        e instanceof kind ||
        (typeof e === 'function' && e.prototype instanceof kind),
    )
  );
}

/** On the class or on the method, for each message handler (a class without any needs neither). */
function isDeclared(type: Type<unknown>, scanner: MetadataScanner): boolean {
  const proto = type.prototype as Record<string, unknown>;
  return scanner.getAllMethodNames(proto).every((name) => {
    const method = proto[name] as object;
    if (!Reflect.getMetadata(MESSAGE_MAPPING_METADATA, method)) return true;
    const has = (key: string, kind: Type<unknown>) =>
      names(kind, Reflect.getMetadata(key, type)) ||
      names(kind, Reflect.getMetadata(key, method));
    return (
      has(EXCEPTION_FILTERS_METADATA, GatewayExceptionFilter) &&
      has(PIPES_METADATA, GatewayValidationPipe)
    );
  });
}

/**
 * Throws {@link UndeclaredGatewayError} naming every `@WebSocketGateway()` class of the
 * application whose message handlers lack the gateway's exception filter or validation pipe,
 * which `@Gateway()` declares. There is no safe way to serve such a class: Nest's own exception
 * handling sits between its handlers and the adapter, so the adapter cannot turn their errors
 * into error frames.
 */
export function assertGatewaysDeclared(discovery: DiscoveryService): void {
  const scanner = new MetadataScanner();
  const undeclared = new Set<string>();
  for (const { metatype } of discovery.getProviders()) {
    const type = metatype as Type<unknown> | undefined | null;
    if (!type || !Reflect.getMetadata(GATEWAY_METADATA, type)) continue;
    if (!isDeclared(type, scanner)) undeclared.add(type.name);
  }
  if (undeclared.size > 0) throw new UndeclaredGatewayError([...undeclared]);
}
