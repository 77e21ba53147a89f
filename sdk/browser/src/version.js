// The package's version (package.json's; a test keeps them equal). A plain
// constant rather than a build-time define, so that bundlers reading src/
// (package.json "module") report it too.
export const VERSION = '0.1.0';
