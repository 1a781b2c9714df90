/** Where schemas/ is, from the compiled file (dist/src/contract/): light, for code that reads a schema without the validators. */
export const schemaDir = new URL('../../../schemas/', import.meta.url);
