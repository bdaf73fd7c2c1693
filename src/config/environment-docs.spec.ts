import { readFileSync } from 'node:fs';
import { withEnvironmentTable } from './environment-docs.js';
import { VARIABLE_DOCS } from './environment.schema.js';
import { GATEWAY_SETTINGS } from '../gateway/settings.js';

const DOCS = new URL('../../docs/configuration.md', import.meta.url);

describe('the environment table of docs/configuration.md', () => {
  it('is the one the settings give (npm run docs:config rewrites it)', () => {
    const markdown = readFileSync(DOCS, 'utf8');
    expect(markdown).toBe(withEnvironmentTable(markdown));
  });

  it('documents every variable once, the settings table’s included', () => {
    const names = VARIABLE_DOCS.map((doc) => doc.name);
    expect(new Set(names).size).toBe(names.length);
    for (const setting of GATEWAY_SETTINGS)
      if ('env' in setting) expect(names).toContain(setting.env);
    expect(names).toContain('PORT');
    expect(names).toContain('LOG_FORMAT');
  });
});
