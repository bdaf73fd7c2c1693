import {
  Injectable,
  type ArgumentMetadata,
  type PipeTransform,
  type ValidationError,
} from '@nestjs/common';
import { CUSTOM_ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { plainToInstance } from 'class-transformer';
import {
  getMetadataStorage,
  validate,
  ValidationTypes,
  type ValidatorOptions,
} from 'class-validator';
import type { ErrorDetail } from '../../protocol/frames.js';
import { GatewayError } from '../../protocol/gateway-error.js';

/** Unknown fields a refusal names; the others are counted in one last detail. */
export const MAX_UNKNOWN_FIELDS_LISTED = 10;

/**
 * Fields one object inside a `@ValidateNested()` property may have. class-transformer's copy of
 * an object costs time quadratic in its number of keys, and no nested DTO class declares this
 * many fields.
 */
export const MAX_NESTED_OBJECT_FIELDS = 256;

/**
 * Values (array items and object fields, at any depth) one `@ValidateNested()` property may
 * hold. class-transformer and class-validator spend time on each: this bounds a DTO's
 * validation. Bulk data belongs in a field without nested
 * rules, which is passed through as it came.
 */
export const MAX_NESTED_VALUES = 10_000;

/** Characters of a client's field name quoted back in `details`. */
const MAX_QUOTED_NAME = 64;

const UNKNOWN_FIELD = 'is not a known field';

/** Parameter types that name no DTO: their payload is passed through untouched. */
const NOT_DTOS: readonly unknown[] = [
  String,
  Boolean,
  Number,
  Array,
  Object,
  Buffer,
  Date,
];

// forbidUnknownValues is off so that a DTO class without rules accepts `{}` (Nest's default).
// Undeclared fields sent by the client are refused before class-validator runs; what it strips
// here are only properties the class itself defines without a rule.
const VALIDATOR_OPTIONS: ValidatorOptions = {
  whitelist: true,
  forbidUnknownValues: false,
  validationError: { target: false, value: false },
};

type Dto = new (...args: any[]) => object;
type Fields = Record<string, unknown>;

/** What the pipe needs to know of a DTO class, read once from class-validator's metadata. */
interface DtoShape {
  /** Properties with at least one rule (`@Allow()` counts): the fields a payload may have. */
  readonly fields: ReadonlySet<string>;
  /** Properties with `@ValidateNested()`: the only ones class-transformer builds objects for. */
  readonly nested: ReadonlySet<string>;
}

const shapes = new WeakMap<Dto, DtoShape>();

function shapeOf(dto: Dto): DtoShape {
  let shape = shapes.get(dto);
  if (!shape) {
    const rules = getMetadataStorage().getTargetValidationMetadatas(
      dto,
      '',
      false,
      false,
    );
    shape = {
      fields: new Set(rules.map((rule) => rule.propertyName)),
      nested: new Set(
        rules
          .filter((rule) => rule.type === ValidationTypes.NESTED_VALIDATION)
          .map((rule) => rule.propertyName),
      ),
    };
    shapes.set(dto, shape);
  }
  return shape;
}

function isDto(metatype: unknown): metatype is Dto {
  return typeof metatype === 'function' && !NOT_DTOS.includes(metatype);
}

/**
 * A custom parameter decorator's value (the connection, the principal): server-made, never
 * validated. Nest's WebSocket context names its type after the decorator's metadata key, not
 * `'custom'` as HTTP does.
 */
function isCustomParameter({ type }: ArgumentMetadata): boolean {
  return type === 'custom' || String(type).includes(CUSTOM_ROUTE_ARGS_METADATA);
}

const isObject = (value: unknown): value is object =>
  typeof value === 'object' && value !== null;

const quoted = (name: string) =>
  name.length > MAX_QUOTED_NAME ? `${name.slice(0, MAX_QUOTED_NAME)}…` : name;

const refusal = (details: readonly ErrorDetail[]) =>
  GatewayError.badRequest('validation failed', details);

/** Gathers unknown fields: the first few by name, the rest by number. */
class UnknownFields {
  readonly details: ErrorDetail[] = [];
  private unlisted = 0;

  add(path: string, name: string): void {
    if (this.details.length < MAX_UNKNOWN_FIELDS_LISTED) {
      const field = quoted(name);
      this.details.push({
        field: path ? `${path}.${field}` : field,
        message: UNKNOWN_FIELD,
      });
    } else {
      this.unlisted++;
    }
  }

  /** Throws `BAD_REQUEST` listing them, if there were any. */
  refuse(): void {
    if (this.details.length === 0) return;
    const details = [...this.details];
    if (this.unlisted > 0) {
      details.push({
        field: '',
        message: `and ${this.unlisted} more unknown fields`,
      });
    }
    throw refusal(details);
  }
}

/** The payload's fields that the DTO does not declare, in one pass over its keys. */
function checkFields(
  payload: Fields,
  shape: DtoShape,
  path: string,
  unknown: UnknownFields,
): void {
  for (const key of Object.keys(payload)) {
    if (!shape.fields.has(key)) unknown.add(path, key);
  }
}

/**
 * Refuses, before class-transformer sees it, a nested value too big to build and validate
 * cheaply (see {@link MAX_NESTED_VALUES} and {@link MAX_NESTED_OBJECT_FIELDS}).
 */
function checkNestedSize(field: string, value: unknown): void {
  let values = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (!isObject(current)) continue;
    const members = Array.isArray(current)
      ? (current as unknown[])
      : Object.values(current);
    if (!Array.isArray(current) && members.length > MAX_NESTED_OBJECT_FIELDS) {
      throw refusal([
        {
          field,
          message: `holds an object of more than ${MAX_NESTED_OBJECT_FIELDS} fields`,
        },
      ]);
    }
    values += members.length;
    if (values > MAX_NESTED_VALUES) {
      throw refusal([
        {
          field,
          message: `holds more than ${MAX_NESTED_VALUES} values to validate`,
        },
      ]);
    }
    for (const member of members) pending.push(member);
  }
}

/**
 * The fields of nested DTOs that their classes do not declare. Only class-transformer knows
 * which class a nested object became (`@Type()`), so the payload is walked beside the DTO
 * built from it, through the `@ValidateNested()` properties, as class-validator will.
 */
function checkNestedFields(
  payload: Fields,
  dto: object,
  shape: DtoShape,
  unknown: UnknownFields,
): void {
  const pending: [unknown, unknown, string][] = [];
  for (const key of shape.nested) {
    pending.push([payload[key], (dto as Fields)[key], quoted(key)]);
  }
  while (pending.length > 0) {
    const [plain, built, path] = pending.pop()!;
    if (!isObject(plain) || !isObject(built)) continue;
    if (Array.isArray(plain)) {
      if (!Array.isArray(built)) continue;
      plain.forEach((item, i) =>
        pending.push([item, built[i], `${path}.${i}`]),
      );
      continue;
    }
    const type = built.constructor;
    if (!isDto(type)) continue;
    const nestedShape = shapeOf(type);
    checkFields(plain as Fields, nestedShape, path, unknown);
    for (const key of nestedShape.nested) {
      pending.push([
        (plain as Fields)[key],
        (built as Fields)[key],
        `${path}.${quoted(key)}`,
      ]);
    }
  }
}

function collect(
  errors: readonly ValidationError[],
  prefix: string,
  out: ErrorDetail[],
): ErrorDetail[] {
  for (const error of errors) {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) {
      out.push({ field, message });
    }
    if (error.children?.length) collect(error.children, field, out);
  }
  return out;
}

/** Flattens class-validator's tree into `details`: one entry per failed rule, dotted paths. */
export function validationDetails(
  errors: readonly ValidationError[],
): ErrorDetail[] {
  return collect(errors, '', []);
}

/**
 * Validates message payloads declared as a DTO class (`class-validator` rules) and hands the
 * handler an instance of it. A failure is `BAD_REQUEST` with `details`:
 * - the payload must be a JSON object (absent counts as `{}`), with no field the class does not
 *   declare, at any `@ValidateNested()` level: unknown fields are refused by name (the first
 *   {@link MAX_UNKNOWN_FIELDS_LISTED}), in time linear in the number of keys;
 * - class-transformer only sees scalar fields (so `@Transform()` on them applies) and
 *   `@ValidateNested()` ones (so `@Type()` builds nested DTOs), these within
 *   {@link MAX_NESTED_VALUES}. Any other object or array, such as `publish`'s `data`, is handed
 *   over as it came, unvalidated inside: class-transformer's copy would cost time quadratic in
 *   its keys and drop those named like `Object.prototype` members (`constructor`, `toString`...);
 * - a payload declared as no class (`unknown`, an interface) is passed through untouched, like a
 *   custom parameter decorator's value.
 *
 * Fields renamed by `@Expose({ name })` are not supported: the payload's names must be the
 * class's own.
 */
@Injectable()
export class GatewayValidationPipe implements PipeTransform {
  /**
   * Whether {@link transform} hands every value of this parameter back as it came (a custom
   * parameter, a type that is no DTO class): the compiled handlers then skip the call, decided
   * once per handler (see handler-table.ts).
   */
  passesThrough(metadata: ArgumentMetadata): boolean {
    return isCustomParameter(metadata) || !isDto(metadata.metatype);
  }

  async transform(
    value: unknown,
    metadata: ArgumentMetadata,
  ): Promise<unknown> {
    const { metatype } = metadata;
    if (this.passesThrough(metadata) || !isDto(metatype)) return value;
    const payload = value ?? {};
    if (!isObject(payload) || Array.isArray(payload)) {
      throw refusal([{ field: '', message: 'must be a JSON object' }]);
    }
    const fields = payload as Fields;
    const shape = shapeOf(metatype);
    const unknown = new UnknownFields();
    checkFields(fields, shape, '', unknown);
    unknown.refuse();

    const transformed: Fields = {};
    const passed: [string, unknown][] = [];
    // Only declared keys are left: as many as the class has fields.
    for (const key of Object.keys(fields)) {
      const field = fields[key];
      if (shape.nested.has(key)) {
        checkNestedSize(quoted(key), field);
        transformed[key] = field;
      } else if (isObject(field)) {
        passed.push([key, field]);
      } else {
        transformed[key] = field;
      }
    }
    const dto = plainToInstance(metatype, transformed) as Fields;
    for (const [key, field] of passed) dto[key] = field;
    checkNestedFields(fields, dto, shape, unknown);
    unknown.refuse();

    const errors = await validate(dto, VALIDATOR_OPTIONS);
    if (errors.length > 0) throw refusal(validationDetails(errors));
    return dto;
  }
}
