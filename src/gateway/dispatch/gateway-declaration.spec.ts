import { Injectable, UseFilters, UsePipes } from '@nestjs/common';
import type { DiscoveryService } from '@nestjs/core';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import {
  assertGatewaysDeclared,
  UndeclaredGatewayError,
} from './gateway-declaration.js';
import { GatewayExceptionFilter } from './gateway-exception.filter.js';
import { GatewayValidationPipe } from './gateway-validation.pipe.js';
import { Gateway } from './gateway.decorator.js';

const discovering = (...types: unknown[]) =>
  ({
    getProviders: () => [
      ...types.map((metatype) => ({ metatype })),
      // Value and factory providers have no class.
      { metatype: undefined },
      { metatype: null },
    ],
  }) as unknown as DiscoveryService;

function undeclared(...types: unknown[]): readonly string[] {
  try {
    assertGatewaysDeclared(discovering(...types));
    return [];
  } catch (err) {
    if (err instanceof UndeclaredGatewayError) return err.classes;
    throw err;
  }
}

@Gateway()
class Composite {
  @SubscribeMessage('a')
  a() {}
}

@WebSocketGateway()
class Plain {
  @SubscribeMessage('a')
  a() {}
}

@WebSocketGateway()
@UseFilters(GatewayExceptionFilter)
class FilterOnly {
  @SubscribeMessage('a')
  a() {}
}

@WebSocketGateway()
@UsePipes(GatewayValidationPipe)
class PipeOnly {
  @SubscribeMessage('a')
  a() {}
}

class OwnFilter extends GatewayExceptionFilter {}

@WebSocketGateway()
@UsePipes(new GatewayValidationPipe())
class MixedLevels {
  @UseFilters(OwnFilter)
  @SubscribeMessage('a')
  a() {}

  @UseFilters(new GatewayExceptionFilter())
  @SubscribeMessage('b')
  b() {}

  notAHandler() {}
}

@WebSocketGateway()
@UsePipes(GatewayValidationPipe)
class OneHandlerForgotten {
  @UseFilters(GatewayExceptionFilter)
  @SubscribeMessage('a')
  a() {}

  @SubscribeMessage('b')
  b() {}
}

@WebSocketGateway()
class WithoutHandlers {}

@Injectable()
class NotAGateway {}

class InheritsComposite extends Composite {
  @SubscribeMessage('c')
  c() {}
}

describe('assertGatewaysDeclared', () => {
  it('accepts @Gateway(), its subclasses, and the filter and pipe named by hand at any level', () => {
    expect(
      undeclared(
        Composite,
        InheritsComposite,
        MixedLevels,
        WithoutHandlers,
        NotAGateway,
      ),
    ).toEqual([]);
  });

  it('names every gateway a handler of which lacks the filter or the pipe', () => {
    expect(
      undeclared(Composite, Plain, FilterOnly, PipeOnly, OneHandlerForgotten),
    ).toEqual(['Plain', 'FilterOnly', 'PipeOnly', 'OneHandlerForgotten']);
  });

  it('names a class once, however many modules provide it', () => {
    expect(undeclared(Plain, Plain)).toEqual(['Plain']);
  });

  it('says what to do in its message', () => {
    expect(() => assertGatewaysDeclared(discovering(Plain))).toThrow(
      /^Plain: declare this gateway with @Gateway\(\) from nest-ws-gateway instead of @WebSocketGateway\(\)/,
    );
  });
});
