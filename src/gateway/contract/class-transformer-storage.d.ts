// class-transformer keeps its decorators' metadata in one storage, which only a deep path
// exposes; its types are there, under another path.
declare module 'class-transformer/cjs/storage.js' {
  export { defaultMetadataStorage } from 'class-transformer/types/storage.js';
}
