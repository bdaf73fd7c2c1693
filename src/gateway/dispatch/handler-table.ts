import type {
  ArgumentMetadata,
  CanActivate,
  INestApplicationContext,
  PipeTransform,
} from '@nestjs/common';
import { MetadataScanner } from '@nestjs/core';
import type { ApplicationConfig } from '@nestjs/core/application-config.js';
import type { NestContainer } from '@nestjs/core/injector/container.js';
import {
  ContextUtils,
  ExecutionContextHost,
  FORBIDDEN_MESSAGE,
  GuardsConsumer,
  GuardsContextCreator,
  InterceptorsConsumer,
  InterceptorsContextCreator,
  ParamsTokenFactory,
  PipesConsumer,
  PipesContextCreator,
  type InstanceWrapper,
} from '@nestjs/core/internal';
import { WsException } from '@nestjs/websockets';
import {
  GATEWAY_METADATA,
  GATEWAY_OPTIONS,
} from '@nestjs/websockets/constants.js';
import { ExceptionFiltersContext } from '@nestjs/websockets/context/exception-filters-context.js';
import { WsContextCreator } from '@nestjs/websockets/context/ws-context-creator.js';
import { WsProxy } from '@nestjs/websockets/context/ws-proxy.js';
import { WsParamtype } from '@nestjs/websockets/enums/ws-paramtype.enum.js';
import { GatewayMetadataExplorer } from '@nestjs/websockets/gateway-metadata-explorer.js';
import {
  EMPTY,
  firstValueFrom,
  isObservable,
  lastValueFrom,
  type Observable,
} from 'rxjs';
import { catchError } from 'rxjs/operators';
import type {
  MessageCallback,
  PendingRequest,
} from '../connections/connection.js';
import { GatewayValidationPipe } from './gateway-validation.pipe.js';
import type { RequestContext } from './request-context.js';
import { isThenable } from './thenable.js';

/**
 * Handlers compiled at bind time, by the path of their gateway, then by event. An event is here
 * only when exactly one handler of its path answers it; the connection's table then holds this
 * function in place of Nest's callback for that event (see GatewayServer.bind).
 */
export type HandlerTable = ReadonlyMap<
  string,
  ReadonlyMap<string, MessageCallback>
>;

/** What Nest's WebSocket context resolves for one handler, once. */
interface ResolvedHandler {
  instance: object;
  callback: (...args: unknown[]) => unknown;
  pattern: string;
  guards: CanActivate[];
  /** Method, class and global pipes, then each parameter's own (as Nest concatenates them). */
  params: CompiledParam[];
  /** Null when the handler has no parameter metadata: it gets Nest's raw arguments. */
  argsLength: number | null;
  handleError: (error: unknown, args: unknown[]) => void;
}

interface CompiledParam {
  index: number;
  /** The parameter's value from the handler's arguments `[client, data, request, pattern]`. */
  extract: (args: unknown[]) => unknown;
  metadata: ArgumentMetadata;
  pipes: PipeTransform[];
  /** Every pipe returns the value as it came (GatewayValidationPipe on a non-DTO parameter). */
  identity: boolean;
}

/** Nest's application internals the table is resolved from; absent outside a Nest application. */
interface NestInternals {
  container?: NestContainer;
  config?: ApplicationConfig;
}

/**
 * Resolves, once, what Nest's WebSocket context (WsContextCreator, WsProxy) resolves for every
 * handler and runs on every message: global, class and method guards, pipes, exception filters,
 * the parameters. Nest then runs them through a chain of some ten promises per message (the
 * guards, the interceptors, the pipes of each parameter, each behind an `await`, even when all of
 * them answer synchronously); the compiled handler calls the same guards, pipes and filters in
 * the same order with the same arguments, synchronously while they answer synchronously, and
 * awaits only what returns a promise.
 *
 * Left to Nest's own callback (the generic path): handlers with interceptors (their rxjs
 * pipeline is theirs to run), gateways that are not statically scoped (Nest resolves their
 * instance per connection), and an event answered by more than one handler of a path (which one
 * serves it depends on the order Nest binds them).
 */
export function compileHandlerTable(
  app: INestApplicationContext,
  defaultPath: string,
): HandlerTable {
  const { container, config } = app as unknown as NestInternals;
  const table = new Map<string, Map<string, MessageCallback>>();
  if (!container || !config) return table;

  const guardsCreator = new GuardsContextCreator(container, config);
  const pipesCreator = new PipesContextCreator(container, config);
  const interceptorsCreator = new InterceptorsContextCreator(container, config);
  const filtersContext = new ExceptionFiltersContext(container);
  // Only for its metadata helpers, the ones Nest's own context creator uses.
  const contextCreator = new WsContextCreator(
    new WsProxy(),
    filtersContext,
    pipesCreator,
    new PipesConsumer(),
    guardsCreator,
    new GuardsConsumer(),
    interceptorsCreator,
    new InterceptorsConsumer(),
  );
  const explorer = new GatewayMetadataExplorer(new MetadataScanner());
  const contextUtils = new ContextUtils();
  const tokens = new ParamsTokenFactory();
  /** Events seen per path; one seen twice is left to Nest. */
  const seen = new Map<string, Map<string, number>>();

  for (const [moduleKey, moduleRef] of container.getModules()) {
    for (const wrapper of moduleRef.providers.values() as Iterable<InstanceWrapper>) {
      const metatype = wrapper?.metatype as object | null | undefined;
      if (!wrapper || wrapper.isNotMetatype || !metatype) continue;
      if (!Reflect.getMetadata(GATEWAY_METADATA, metatype)) continue;
      const options = Reflect.getMetadata(GATEWAY_OPTIONS, metatype) as
        { path?: string } | undefined;
      const path = options?.path ?? defaultPath;
      const events = seen.get(path) ?? new Map<string, number>();
      seen.set(path, events);
      const handlers = table.get(path) ?? new Map<string, MessageCallback>();
      table.set(path, handlers);
      const instance = wrapper.instance as object | undefined;
      const isStatic = wrapper.isDependencyTreeStatic();
      const explored = instance ? explorer.explore(instance) : [];
      for (const { callback, message, methodName } of explored) {
        if (typeof message !== 'string') continue;
        events.set(message, (events.get(message) ?? 0) + 1);
        if (!isStatic || !instance) continue;
        const interceptors = interceptorsCreator.create(
          instance,
          callback,
          moduleKey,
        );
        if (interceptors.length > 0) continue;
        const { argsLength, paramtypes, getParamsMetadata } =
          contextCreator.getMetadata(instance, methodName, 'ws');
        const pipes = pipesCreator.create(instance, callback, moduleKey);
        const paramsMetadata = getParamsMetadata(moduleKey);
        const paramsOptions = paramsMetadata
          ? contextUtils.mergeParamsMetatypes(paramsMetadata, paramtypes)
          : [];
        const exceptions = filtersContext.create(instance, callback, moduleKey);
        handlers.set(
          message,
          compile({
            instance,
            callback: callback as (...args: unknown[]) => unknown,
            pattern: message,
            guards: guardsCreator.create(instance, callback, moduleKey),
            argsLength: paramsOptions.length > 0 ? argsLength : null,
            params: paramsOptions.map((param) => {
              const metadata: ArgumentMetadata = {
                metatype: (param as { metatype?: ArgumentMetadata['metatype'] })
                  .metatype,
                type: tokens.exchangeEnumForString(
                  param.type as never,
                ) as ArgumentMetadata['type'],
                data: param.data as string | undefined,
              };
              const schema = (param as { schema?: unknown }).schema;
              if (schema !== undefined)
                (metadata as { schema?: unknown }).schema = schema;
              const all = pipes.concat(param.pipes);
              return {
                index: param.index,
                extract: extractorOf(
                  param as Parameters<typeof extractorOf>[0],
                ),
                metadata,
                pipes: all,
                identity: all.every(
                  (pipe) =>
                    pipe instanceof GatewayValidationPipe &&
                    pipe.constructor === GatewayValidationPipe &&
                    pipe.passesThrough(metadata),
                ),
              };
            }),
            handleError: (error, args) => {
              exceptions.handle(error as Error, new WsExecutionContext(args));
            },
          }),
        );
      }
    }
  }
  for (const [path, events] of seen) {
    for (const [event, count] of events) {
      if (count > 1) table.get(path)?.delete(event);
    }
  }
  for (const handlers of table.values()) shared.add(handlers);
  return table;
}

const shared = new WeakSet<object>();

/**
 * How a parameter's value is taken from the handler's arguments. For `@ConnectedSocket()` and
 * `@MessageBody(key?)`, what Nest's WsParamsFactory returns, read directly: Nest's own extractor
 * gathers the arguments into a rest array and is called with them spread, two arrays per
 * parameter per message. Anything else (a custom decorator, `@Ack()`) gets Nest's extractor.
 */
function extractorOf(param: {
  type: unknown;
  data?: unknown;
  extractValue: (...args: unknown[]) => unknown;
}): (args: unknown[]) => unknown {
  const { type, data, extractValue } = param;
  if (type === WsParamtype.SOCKET) return (args) => args[0];
  if (type === WsParamtype.PAYLOAD) {
    if (!data) return (args) => args[1];
    const key = data as string;
    return (args) =>
      (args[1] as Record<string, unknown> | null | undefined)?.[key];
  }
  return (args) => extractValue(args[0], args[1], args[2], args[3]);
}

/**
 * Whether `handlers` is one of a path's compiled tables, which connections share when all their
 * handlers are compiled: never written to after compilation.
 */
export function isSharedTable(handlers: object): boolean {
  return shared.has(handlers);
}

/**
 * One handler's chain, as WsContextCreator.create and WsProxy run it: the arguments are
 * `[client, data, request, pattern]`; the guards share one execution context and a `false`
 * is Nest's `Forbidden resource`; each parameter is extracted and passed through the pipes;
 * an error anywhere (a rejected result included) goes to the exception filters with a host of
 * those arguments, and an Observable result has them in its error path. The result is returned
 * as it is, synchronously when nothing on the way was a promise.
 */
function compile(handler: ResolvedHandler): MessageCallback {
  const { instance, callback, pattern, guards, params, argsLength } = handler;
  const type = instance.constructor as never;
  const emptyArgs = Array.from<unknown>({ length: argsLength ?? 0 });

  const guardFrom = async (
    args: unknown[],
    context: ExecutionContextHost,
    from: number,
    pending: unknown,
  ): Promise<void> => {
    // As GuardsConsumer.pickResult: a promise of a boolean or of an Observable of one.
    const first = await resolveGuard(pending);
    if (!first) throw new WsException(FORBIDDEN_MESSAGE);
    for (let i = from + 1; i < guards.length; i++) {
      if (!(await resolveGuard(guards[i]!.canActivate(context))))
        throw new WsException(FORBIDDEN_MESSAGE);
    }
  };

  const applyPipes = async (param: CompiledParam, value: unknown) => {
    let result = isThenable(value) ? await value : value;
    for (const pipe of param.pipes) {
      result = await pipe.transform(result, param.metadata);
    }
    return result;
  };

  /** Parameters, then the method; a promise only where a pipe or a value was one. */
  const invoke = (args: unknown[]): unknown => {
    if (argsLength === null) return callback.apply(instance, args);
    // As Nest's createNullArray: one slot per declared parameter, undefined until filled.
    const callArgs = emptyArgs.slice();
    let pending: Promise<void>[] | undefined;
    for (const param of params) {
      const value = param.extract(args);
      if (param.identity && !isThenable(value)) {
        callArgs[param.index] = value;
      } else {
        (pending ??= []).push(
          applyPipes(param, value).then((v) => {
            callArgs[param.index] = v;
          }),
        );
      }
    }
    if (!pending) return callback.apply(instance, callArgs);
    return Promise.all(pending).then(() => callback.apply(instance, callArgs));
  };

  const settle = (result: unknown, args: unknown[]): unknown => {
    if (isThenable(result)) {
      return Promise.resolve(result).then(
        (value) => observe(value, args),
        (error: unknown) => handler.handleError(error, args),
      );
    }
    return observe(result, args);
  };

  // An Observable's first value is the reply, as the dispatcher takes it from Nest's callbacks: a
  // compiled handler hands over a value or a promise, never an Observable.
  const observe = (value: unknown, args: unknown[]): unknown =>
    isObservable(value)
      ? firstValueFrom(
          (value as Observable<unknown>).pipe(
            catchError((error: unknown) => {
              handler.handleError(error, args);
              return EMPTY;
            }),
          ),
          { defaultValue: undefined },
        )
      : value;

  const run = (data: unknown, request: PendingRequest): unknown => {
    const client = (request as RequestContext).connection.socket;
    const args: unknown[] = [client, data, request, pattern];
    let result: unknown;
    try {
      if (guards.length > 0) {
        const context = new WsExecutionContext(args, type, callback);
        for (let i = 0; i < guards.length; i++) {
          const verdict = guards[i]!.canActivate(context);
          if (verdict === true) continue;
          if (verdict === false) throw new WsException(FORBIDDEN_MESSAGE);
          return settle(
            guardFrom(args, context, i, verdict).then(() => invoke(args)),
            args,
          );
        }
      }
      result = invoke(args);
    } catch (error) {
      handler.handleError(error, args);
      return undefined;
    }
    return settle(result, args);
  };
  compiled.add(run);
  return run as MessageCallback;
}

const compiled = new WeakSet<object>();

/**
 * Nest's execution context of a WebSocket message, already switched to `ws`. Nest's own
 * `switchToWs()` assigns three new closures to the context on every call, and a guard calls it on
 * every message (WsAuthGuard does): here they are methods, and the switch returns the context.
 */
class WsExecutionContext extends ExecutionContextHost {
  constructor(
    args: unknown[],
    type?: ConstructorParameters<typeof ExecutionContextHost>[1],
    handler?: ConstructorParameters<typeof ExecutionContextHost>[2],
  ) {
    super(args, type, handler);
    this.setType('ws');
  }

  override switchToWs(): this {
    return this;
  }

  getClient<T = unknown>(): T {
    return this.getArgByIndex(0);
  }

  getData<T = unknown>(): T {
    return this.getArgByIndex(1);
  }

  getPattern(): string {
    return this.getArgByIndex(this.getArgs().length - 1);
  }
}

/** Whether a connection's handler is a compiled one (the fast path) rather than Nest's callback. */
export function isCompiledHandler(handler: unknown): boolean {
  return typeof handler === 'function' && compiled.has(handler);
}

async function resolveGuard(result: unknown): Promise<boolean> {
  const value = await result;
  if (isObservable(value)) return Boolean(await lastValueFrom(value));
  return Boolean(value);
}
