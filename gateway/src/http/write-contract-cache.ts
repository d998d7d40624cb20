// Run by `npm run build`: writes dist/openapi/levelring.json, the parsed contract a node reads at start.
import { writeDocumentCache } from './contract.js'

writeDocumentCache()
