// Regenerates src/api/schema.d.ts from the document the app serves (scripts/write_openapi.py
// imports the app; no server needed). The build runs it before vue-tsc, so a drift between the
// API and the console's calls fails the build.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const python = process.env.PYTHON || resolve(root, "..", ".venv", "bin", "python");
const doc = resolve(root, "generated", "openapi.json");
mkdirSync(dirname(doc), { recursive: true });
const roles = resolve(root, "src", "api", "roles.json");
execFileSync(existsSync(python) ? python : "python3", [resolve(here, "write_openapi.py"), doc, roles], { stdio: "inherit" });
execFileSync(resolve(root, "node_modules", ".bin", "openapi-typescript"),
  [doc, "-o", resolve(root, "src", "api", "schema.d.ts"), "--alphabetize", "--default-non-nullable", "false"], { stdio: "inherit" });
