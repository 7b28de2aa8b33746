#!/usr/bin/env node
// `npx ibex …`: the admin CLI. Registers tsx's ESM loader in this process (the workspace ships
// TypeScript sources) and runs src/main.ts, which sets the exit code.
import { register } from "tsx/esm/api"

register()
await import(new URL("../src/main.ts", import.meta.url).href)
