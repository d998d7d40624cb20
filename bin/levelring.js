#!/usr/bin/env node
// The `levelring` command: runs the compiled CLI (npm run build first).
import { main } from '../dist/tools/src/cli.js'

await main(process.argv)
