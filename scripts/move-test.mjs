// Builds the Move package in move/ and runs its unit tests with the real Sui
// compiler and test runner compiled to WebAssembly (@zktx.io/sui-move-builder),
// taking the framework sources from $SUI_FRAMEWORK_DIR (a Sui repository
// checkout at the commit the builder pins). Called by scripts/move-test.
//
// Exit status: 0 when the build has no warnings and every test passes.
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import { join, relative } from "node:path";

const builderDir = process.env.MOVE_BUILDER_DIR;
const frameworkDir = process.env.SUI_FRAMEWORK_DIR;
const packageDir = process.argv[2];
const { initMovePackageBuilder, dumpMovePackage, testMovePackage } = await import(
  join(builderDir, "node_modules/@zktx.io/sui-move-builder/dist/full/index.js")
);

function readTree(dir, filter) {
  const files = {};
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (filter(relative(dir, p))) files[relative(dir, p)] = readFileSync(p, "utf8");
    }
  };
  walk(dir);
  return files;
}

const isPackageFile = (p) => p === "Move.toml" || (/^(sources|tests)\//.test(p) && p.endsWith(".move"));

// Serves the implicit framework dependencies from the local checkout.
class LocalFetcher {
  async fetch(gitUrl, rev, subdir) {
    const dir = join(frameworkDir, subdir ?? "");
    if (!existsSync(join(dir, "Move.toml"))) {
      throw new Error(`${gitUrl}@${rev}/${subdir}: not found under SUI_FRAMEWORK_DIR (${dir})`);
    }
    return readTree(dir, (p) => p === "Move.toml" || (p.startsWith("sources/") && p.endsWith(".move")));
  }
  async fetchFile(_gitUrl, _rev, path) {
    const p = join(frameworkDir, path);
    return existsSync(p) ? readFileSync(p, "utf8") : null;
  }
  getResolvedSha(_gitUrl, rev) {
    return rev;
  }
}

await initMovePackageBuilder();
const files = readTree(packageDir, isPackageFile);
const input = { files, fetcher: new LocalFetcher(), lintFlag: "default", ansiColor: false };

const built = await dumpMovePackage(input);
if ("error" in built) {
  console.error(`move build failed (${built.category}):\n${built.error}`);
  process.exit(1);
}
console.log(`move build: ${built.modules.length} modules`);
if (built.warnings && built.warnings.trim()) {
  console.error(`move build warnings (treated as errors):\n${built.warnings}`);
  process.exit(1);
}

const tested = await testMovePackage(input);
if ("error" in tested) {
  console.error(`move test failed to run (${tested.category}):\n${tested.error}`);
  process.exit(1);
}
console.log(tested.output);
process.exit(tested.passed ? 0 : 1);
