/**
 * The names the handlers use for the types generated from openapi/levelring.yaml
 * (`npm run gen:api`; a test fails when the generated file is stale).
 */
import type { components, operations } from '../../../openapi/generated/levelring.js'

export type { paths, components, operations } from '../../../openapi/generated/levelring.js'

export type Problem = components['schemas']['Problem']
export type ProblemType = Problem['type']
export type VersionedObjectBody = components['schemas']['VersionedObject']
export type HealthBody = components['schemas']['Health']
export type ClusterViewBody = components['schemas']['ClusterView']
export type GetObjectQuery = NonNullable<operations['getObject']['parameters']['query']>
export type PutObjectQuery = NonNullable<operations['putObject']['parameters']['query']>
export type DeleteObjectQuery = NonNullable<operations['deleteObject']['parameters']['query']>
