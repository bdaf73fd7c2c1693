/** A JSON Schema (draft 07, as AsyncAPI 3 takes it), as plain data. */
export type JsonSchema = { [keyword: string]: unknown };

/** Where the document keeps its schemas: `$ref`s point here. */
export const SCHEMAS_POINTER = '#/components/schemas/';

/**
 * A reference to the schema of a class described with class-validator decorators (a DTO, a
 * reply class): `{"$ref": "#/components/schemas/<Name>"}`. The class must be one the document
 * knows: named in `@ApiEvent()` or `@ApiPush()`, or the type of a handler's `@MessageBody()`.
 */
export function schemaRef(type: { name: string }): JsonSchema {
  return { $ref: `${SCHEMAS_POINTER}${type.name}` };
}

/** What a payload or reply is described by: a described class, or a JSON Schema. */
export type SchemaSource =
  (abstract new (...args: never[]) => unknown) | JsonSchema;

/** Any JSON value: what a handler without a DTO takes, said so rather than left out. */
export const ANY_JSON: JsonSchema = {
  description: 'any JSON value',
};
