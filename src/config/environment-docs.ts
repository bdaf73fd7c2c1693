import { VARIABLE_DOCS, type VariableDoc } from './environment.schema.js';

/** Around the generated table in docs/configuration.md. */
export const TABLE_BEGIN = '<!-- settings:begin (npm run docs:config) -->';
export const TABLE_END = '<!-- settings:end -->';

const HEADER: VariableDoc = {
  name: 'variable',
  default: 'default',
  meaning: 'meaning',
};

// The schema declares the service's logging with its other variables, before the settings
// table adds its own; a reader wants the gateway's settings together, and logging after them.
const isLogging = (doc: VariableDoc): boolean => doc.name.startsWith('LOG_');

/**
 * The environment table of docs/configuration.md, as markdown with aligned columns: the
 * variables in the order they are declared (the server's, those resolved by code, the settings
 * table's in its order), logging last.
 */
export function renderEnvironmentTable(): string {
  const docs = [
    ...VARIABLE_DOCS.filter((doc) => !isLogging(doc)),
    ...VARIABLE_DOCS.filter(isLogging),
  ];
  const rows = [
    HEADER,
    ...docs.map((doc) => ({ ...doc, name: `\`${doc.name}\`` })),
  ].map((doc) => [doc.name, doc.default, doc.meaning]);
  const widths = [0, 1, 2].map((column) =>
    Math.max(...rows.map((row) => row[column].length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => cell + ' '.repeat(widths[i] - cell.length)).join(' | ')} |`;
  const [header, ...body] = rows;
  return [
    line(header),
    line(widths.map((width) => '-'.repeat(width))),
    ...body.map(line),
  ].join('\n');
}

/** `markdown` with the text between the table's markers replaced by the table. */
export function withEnvironmentTable(markdown: string): string {
  const begin = markdown.indexOf(TABLE_BEGIN);
  const end = markdown.indexOf(TABLE_END);
  if (begin < 0 || end < begin)
    throw new Error(`no ${TABLE_BEGIN} ... ${TABLE_END} in the markdown`);
  return (
    markdown.slice(0, begin + TABLE_BEGIN.length) +
    `\n\n${renderEnvironmentTable()}\n\n` +
    markdown.slice(end)
  );
}
