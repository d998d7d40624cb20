import type { Request, Response } from 'express'
import type { EngineShapesBody } from '../metrics/engine-shapes.js'

/** GET /v1/engines: the LSM shape of every member's engine (the dashboard draws one per node). */
export function enginesRoute (engines: () => Promise<EngineShapesBody>) {
  return async function enginesView (_req: Request, res: Response): Promise<void> {
    res.status(200).json(await engines())
  }
}
