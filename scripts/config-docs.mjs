// Rewrites the environment table of docs/configuration.md from the settings, once built
// (`npm run docs:config`); the unit test environment-docs.spec.ts fails until it is run.
import { readFileSync, writeFileSync } from 'node:fs';
import { withEnvironmentTable } from '../dist/config/environment-docs.js';

const file = new URL('../docs/configuration.md', import.meta.url);
writeFileSync(file, withEnvironmentTable(readFileSync(file, 'utf8')));
