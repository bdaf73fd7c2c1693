import type { ArgumentMetadata, ValidationError } from '@nestjs/common';
import { Transform, Type } from 'class-transformer';
import {
  Allow,
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { ErrorCode } from '../../protocol/error-codes.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import {
  GatewayValidationPipe,
  MAX_NESTED_OBJECT_FIELDS,
  MAX_NESTED_VALUES,
  MAX_UNKNOWN_FIELDS_LISTED,
  validationDetails,
} from './gateway-validation.pipe.js';

/** A class-validator error node, as the library builds them. */
function node(
  property: string,
  constraints?: Record<string, string>,
  children: ValidationError[] = [],
): ValidationError {
  return { property, constraints, children };
}

describe('validationDetails', () => {
  it('returns nothing for no errors', () => {
    expect(validationDetails([])).toEqual([]);
  });

  it('lists one entry per failed rule of a top-level field', () => {
    expect(
      validationDetails([
        node('room', {
          isString: 'room must be a string',
          minLength: 'room must be longer than or equal to 1 characters',
        }),
        node('count', { isInt: 'count must be an integer number' }),
      ]),
    ).toEqual([
      { field: 'room', message: 'room must be a string' },
      {
        field: 'room',
        message: 'room must be longer than or equal to 1 characters',
      },
      { field: 'count', message: 'count must be an integer number' },
    ]);
  });

  it('flattens nested errors with dotted paths, depth first', () => {
    expect(
      validationDetails([
        node('user', undefined, [
          node('name', { isString: 'name must be a string' }),
          node('address', undefined, [
            node('zip', { matches: 'zip must match' }),
          ]),
        ]),
        node('items', undefined, [
          node('0', undefined, [
            node('qty', { min: 'qty must not be less than 1' }),
          ]),
        ]),
        node('tag', { isString: 'tag must be a string' }),
      ]),
    ).toEqual([
      { field: 'user.name', message: 'name must be a string' },
      { field: 'user.address.zip', message: 'zip must match' },
      { field: 'items.0.qty', message: 'qty must not be less than 1' },
      { field: 'tag', message: 'tag must be a string' },
    ]);
  });

  it('lists a parent rule and its children rules both', () => {
    expect(
      validationDetails([
        node(
          'items',
          { arrayMaxSize: 'items must contain no more than 1 elements' },
          [node('1', { isString: 'each value in items must be a string' })],
        ),
      ]),
    ).toEqual([
      { field: 'items', message: 'items must contain no more than 1 elements' },
      { field: 'items.1', message: 'each value in items must be a string' },
    ]);
  });

  it('skips a node with neither constraints nor children', () => {
    expect(validationDetails([node('quiet')])).toEqual([]);
  });
});

/**
 * Instances built of each DTO class below: the work class-transformer did for a payload (it
 * builds one per object it transforms, and class-validator has nothing to validate without
 * them). Counting them shows that a refusal came before that work, whatever the machine's load.
 */
const built = new Map<object, number>();
const builds = (dto: object): number => built.get(dto) ?? 0;

abstract class Counted {
  constructor() {
    built.set(new.target, builds(new.target) + 1);
  }
}

class Position extends Counted {
  @IsInt()
  @Min(0)
  x: number;

  @IsInt()
  @Min(0)
  y: number;
}

class MoveDto extends Counted {
  @IsString()
  @MinLength(1)
  @MaxLength(8)
  room: string;

  @IsObject()
  @ValidateNested()
  @Type(() => Position)
  to: Position;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(2)
  @IsString({ each: true })
  tags?: string[];
}

/** A DTO carrying opaque JSON next to its checked fields, as publish does. */
class EnvelopeLikeDto {
  @IsString()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? value.trim() : value,
  )
  name: string;

  @Allow()
  payload?: unknown;

  @IsOptional()
  @IsObject()
  meta?: Record<string, unknown>;
}

class Route extends Counted {
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => Position)
  stops: Position[];
}

const body: ArgumentMetadata = { type: 'body', metatype: MoveDto };

async function refusal(
  value: unknown,
  metadata: ArgumentMetadata = body,
): Promise<GatewayError> {
  try {
    await new GatewayValidationPipe().transform(value, metadata);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error(`the pipe accepted ${JSON.stringify(value)}`);
}

/** An object with `count` distinct keys `k0`, `k1`... */
function manyKeys(count: number, prefix = 'k'): Record<string, number> {
  const object: Record<string, number> = {};
  for (let i = 0; i < count; i++) object[`${prefix}${i}`] = i;
  return object;
}

/**
 * `target` behind a proxy counting every look at its keys or members, as a copy or a walk
 * through it would take: the work spent inside an opaque value.
 */
function watched<T extends object>(
  target: T,
): { value: T; looks: () => number } {
  let looks = 0;
  const value = new Proxy(target, {
    get(object, key, receiver) {
      looks++;
      return Reflect.get(object, key, receiver) as unknown;
    },
    has(object, key) {
      looks++;
      return Reflect.has(object, key);
    },
    ownKeys(object) {
      looks++;
      return Reflect.ownKeys(object);
    },
    getOwnPropertyDescriptor(object, key) {
      looks++;
      return Reflect.getOwnPropertyDescriptor(object, key);
    },
  });
  return { value, looks: () => looks };
}

/** Keys of `Object.prototype` members, which object copies tend to skip. */
const PROTOTYPE_KEYS = [
  'constructor',
  'prototype',
  '__proto__',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  '__defineGetter__',
];

describe('GatewayValidationPipe', () => {
  const pipe = new GatewayValidationPipe();

  beforeEach(() => built.clear());

  it('turns a valid payload into an instance of the DTO', async () => {
    const result: unknown = await pipe.transform(
      { room: 'lobby', to: { x: 1, y: 2 }, tags: ['a'] },
      body,
    );
    expect(result).toBeInstanceOf(MoveDto);
    expect((result as MoveDto).to).toBeInstanceOf(Position);
    expect(result).toEqual({ room: 'lobby', to: { x: 1, y: 2 }, tags: ['a'] });
  });

  it('builds arrays of nested DTOs (@ValidateNested({ each }) and @Type)', async () => {
    const result = (await pipe.transform(
      {
        stops: [
          { x: 1, y: 2 },
          { x: 3, y: 4 },
        ],
      },
      { type: 'body', metatype: Route },
    )) as Route;
    expect(result).toBeInstanceOf(Route);
    expect(result.stops.every((s) => s instanceof Position)).toBe(true);
    const err = await refusal(
      {
        stops: [
          { x: 1, y: 2 },
          { x: -1, y: 0 },
        ],
      },
      { type: 'body', metatype: Route },
    );
    expect(err.details).toEqual([
      { field: 'stops.1.x', message: 'x must not be less than 0' },
    ]);
  });

  it('refuses a field the DTO does not declare, naming it', async () => {
    const err = await refusal({
      room: 'lobby',
      to: { x: 0, y: 0 },
      admin: true,
    });
    expect(err.code).toBe(ErrorCode.BAD_REQUEST);
    expect(err.message).toBe('validation failed');
    expect(err.details).toEqual([
      { field: 'admin', message: 'is not a known field' },
    ]);
  });

  it('refuses a field a nested DTO does not declare, naming its path', async () => {
    const err = await refusal({ room: 'lobby', to: { x: 0, y: 0, z: 9 } });
    expect(err.details).toEqual([
      { field: 'to.z', message: 'is not a known field' },
    ]);
  });

  it(`lists ${MAX_UNKNOWN_FIELDS_LISTED} unknown fields at most, and counts the others`, async () => {
    const err = await refusal({ room: 'lobby', ...manyKeys(25) });
    expect(err.details).toEqual([
      ...Array.from({ length: MAX_UNKNOWN_FIELDS_LISTED }, (_, i) => ({
        field: `k${i}`,
        message: 'is not a known field',
      })),
      {
        field: '',
        message: `and ${25 - MAX_UNKNOWN_FIELDS_LISTED} more unknown fields`,
      },
    ]);
  });

  it('shortens a long unknown field name in details', async () => {
    const name = 'n'.repeat(100_000);
    const err = await refusal({ [name]: 1 });
    expect(err.details).toEqual([
      { field: `${'n'.repeat(64)}…`, message: 'is not a known field' },
    ]);
  });

  it('refuses 100,000 unknown fields before any transformation', async () => {
    const value = { room: 'lobby', to: { x: 0, y: 0 }, ...manyKeys(100_000) };
    const err = await refusal(value);
    expect(err.details).toHaveLength(MAX_UNKNOWN_FIELDS_LISTED + 1);
    expect(builds(MoveDto)).toBe(0);
    expect(builds(Position)).toBe(0);
    // The same payload without them is built: the counts above do count.
    await pipe.transform({ room: 'lobby', to: { x: 0, y: 0 } }, body);
    expect(builds(MoveDto)).toBe(1);
    expect(builds(Position)).toBe(1);
  });

  it.each(['__proto__', 'constructor', 'prototype'])(
    'refuses %s beside the fields, and nothing is polluted',
    async (key) => {
      const value = JSON.parse(
        `{"room":"lobby","to":{"x":0,"y":0},"${key}":{"polluted":true}}`,
      ) as unknown;
      const err = await refusal(value);
      expect(err.details).toEqual([
        { field: key, message: 'is not a known field' },
      ]);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
  );

  it(`refuses a nested object of more than ${MAX_NESTED_OBJECT_FIELDS} fields before building the DTO`, async () => {
    const value = { room: 'lobby', to: { x: 0, y: 0, ...manyKeys(100_000) } };
    const err = await refusal(value);
    expect(err.details).toEqual([
      {
        field: 'to',
        message: `holds an object of more than ${MAX_NESTED_OBJECT_FIELDS} fields`,
      },
    ]);
    expect(builds(MoveDto)).toBe(0);
    expect(builds(Position)).toBe(0);
    // One field more than allowed is enough.
    const justOver = manyKeys(MAX_NESTED_OBJECT_FIELDS - 1);
    await refusal({ room: 'lobby', to: { x: 0, y: 0, ...justOver } });
    expect(builds(Position)).toBe(0);
    // At the limit, the object is built, then its undeclared fields are refused.
    const atLimit = manyKeys(MAX_NESTED_OBJECT_FIELDS - 2);
    const unknown = await refusal({
      room: 'lobby',
      to: { x: 0, y: 0, ...atLimit },
    });
    expect(unknown.details?.[0]).toEqual({
      field: 'to.k0',
      message: 'is not a known field',
    });
    expect(builds(MoveDto)).toBe(1);
    expect(builds(Position)).toBe(1);
  });

  it(`refuses nested values past ${MAX_NESTED_VALUES} in all before building the DTO`, async () => {
    const route = { type: 'body', metatype: Route } as const;
    const tooMany = `holds more than ${MAX_NESTED_VALUES} values to validate`;
    // In one array...
    const stops = Array.from({ length: 300_000 }, () => ({}));
    const err = await refusal({ stops }, route);
    expect(err.details).toEqual([{ field: 'stops', message: tooMany }]);
    // ...or spread over many small objects, each within bounds.
    const overall = Array.from({ length: MAX_NESTED_VALUES / 2 }, () => ({
      x: 0,
      y: 0,
    }));
    const spread = await refusal({ stops: overall }, route);
    expect(spread.details).toEqual([{ field: 'stops', message: tooMany }]);
    expect(builds(Route)).toBe(0);
    expect(builds(Position)).toBe(0);
    // Just within the budget: built and validated as usual.
    const within = overall.slice(0, Math.floor(MAX_NESTED_VALUES / 3));
    const result = (await pipe.transform({ stops: within }, route)) as Route;
    expect(result.stops).toHaveLength(within.length);
    expect(builds(Route)).toBe(1);
    expect(builds(Position)).toBe(within.length);
  });

  it('passes fields without nested rules through as they came: same objects, every key', async () => {
    const payload = JSON.parse(
      `{${PROTOTYPE_KEYS.map((k) => `"${k}":{"${k}":[{"${k}":1}]}`).join(',')},"ok":[${'{},'.repeat(999)}{}]}`,
    ) as Record<string, unknown>;
    const meta = { constructor: 1, nested: { toString: 2, valueOf: 3 } };
    const result = (await pipe.transform(
      { name: '  trimmed ', payload, meta },
      { type: 'body', metatype: EnvelopeLikeDto },
    )) as EnvelopeLikeDto;
    expect(result).toBeInstanceOf(EnvelopeLikeDto);
    // A transformation on a scalar field still applies.
    expect(result.name).toBe('trimmed');
    expect(result.payload).toBe(payload);
    expect(result.meta).toBe(meta);
    for (const key of PROTOTYPE_KEYS)
      expect(Object.hasOwn(payload, key)).toBe(true);
    expect(JSON.stringify(result.payload)).toBe(JSON.stringify(payload));
  });

  it('passes 1 MiB of opaque data through without looking inside', async () => {
    const payload = watched(Array.from({ length: 350_000 }, () => ({})));
    const meta = watched(manyKeys(100_000));
    const value = { name: 'x', payload: payload.value, meta: meta.value };
    const metadata = { type: 'body', metatype: EnvelopeLikeDto } as const;
    const result = (await pipe.transform(value, metadata)) as EnvelopeLikeDto;
    expect(result.payload).toBe(payload.value);
    expect(result.meta).toBe(meta.value);
    // Neither copied nor walked by class-transformer or class-validator, nor by the pipe.
    expect(payload.looks()).toBe(0);
    expect(meta.looks()).toBe(0);
    // The proxies do count: a walk through them is seen.
    expect(Object.keys(meta.value)).toHaveLength(100_000);
    expect(meta.looks()).toBeGreaterThan(100_000);
  });

  it('refuses an invalid payload with BAD_REQUEST and every failed field', async () => {
    const err = await refusal({
      room: 'much-too-long',
      to: { x: -1, y: 'north' },
      tags: ['a', 2, 'c'],
    });
    expect(err.code).toBe(ErrorCode.BAD_REQUEST);
    expect(err.message).toBe('validation failed');
    const fields = err.details?.map((d) => d.field);
    expect(new Set(fields)).toEqual(new Set(['room', 'to.x', 'to.y', 'tags']));
    expect(err.details).toContainEqual({
      field: 'room',
      message: 'room must be shorter than or equal to 8 characters',
    });
    expect(err.details).toContainEqual({
      field: 'to.x',
      message: 'x must not be less than 0',
    });
    expect(err.details).toContainEqual({
      field: 'tags',
      message: 'each value in tags must be a string',
    });
    expect(err.details?.filter((d) => d.field === 'to.y')).toHaveLength(2);
  });

  it('refuses a missing nested object', async () => {
    const err = await refusal({ room: 'lobby' });
    expect(err.details).toEqual([
      { field: 'to', message: 'to must be an object' },
    ]);
  });

  it.each([
    ['no payload', undefined],
    ['null', null],
    ['an empty object', {}],
  ])('refuses %s, listing the required fields', async (_, value) => {
    const err = await refusal(value);
    expect(err.code).toBe(ErrorCode.BAD_REQUEST);
    const fields = new Set(err.details?.map((d) => d.field));
    expect(fields.has('room')).toBe(true);
    expect(fields.has('to')).toBe(true);
    expect(fields.has('tags')).toBe(false);
  });

  it.each([
    ['an array', [{ room: 'lobby' }]],
    ['a string', 'lobby'],
    ['a number', 7],
    ['a boolean', true],
  ])('refuses %s where an object is expected', async (_, value) => {
    const err = await refusal(value);
    expect(err.message).toBe('validation failed');
    expect(err.details).toEqual([
      { field: '', message: 'must be a JSON object' },
    ]);
  });

  it('leaves payloads without a DTO class alone', async () => {
    const value = { anything: [1, 2] };
    await expect(
      pipe.transform(value, { type: 'body', metatype: Object }),
    ).resolves.toBe(value);
    await expect(pipe.transform('text', { type: 'body' })).resolves.toBe(
      'text',
    );
    await expect(
      pipe.transform(value, { type: 'body', metatype: Array }),
    ).resolves.toBe(value);
  });

  it("leaves a custom parameter decorator's value alone, whatever its type", async () => {
    const connection = { id: 'c1', extra: true };
    await expect(
      pipe.transform(connection, { type: 'custom', metatype: MoveDto }),
    ).resolves.toBe(connection);
    // What Nest's WebSocket context passes for one: the decorator's metadata key.
    const wsCustom = {
      type: '7f3a__customRouteArgs__',
      metatype: MoveDto,
    } as unknown as ArgumentMetadata;
    await expect(pipe.transform(connection, wsCustom)).resolves.toBe(
      connection,
    );
  });
});
