// The permission proofs' IAM evaluator (tests/src/iam.rs runs it): reads one request, or an array
// of requests, as JSON on stdin, evaluates each with @cloud-copilot/iam-simulate and prints the
// decisions as JSON on stdout, in the same shape (one object, or an array).
//
// A request:
//   { "principal": "arn:aws:sts::222222222222:assumed-role/Node/i-0abc",
//     "action": "s3:PutObject",
//     "resource": "arn:aws:s3:::bucket/key", "resourceAccount": "111111111111",
//     "identityPolicies": [{"name": "...", "policy": {...}}],
//     "resourcePolicy": {...} | null,
//     "serviceControlPolicies": [{"orgIdentifier": "...", "policies": [{"name", "policy"}]}],
//     "resourceControlPolicies": [...],
//     "context": {"aws:PrincipalOrgID": "o-...", ...},
//     "awsOwned": false }
// A decision: { "decision": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied",
//               "ignoredContextKeys": [...] }
// or, when the evaluator refuses the input (an invalid policy, an action it does not know, a
// resource of the wrong type): { "error": "...", "details": {...} }. The evaluator never guesses
// past a validation error, so neither does this script, with one exception: `"awsOwned": true`
// marks a resource AWS owns and shares with every account, such as the document
// `arn:aws:ssm:us-east-1::document/AWS-RunPatchBaseline`. Its ARN has no account, which the
// evaluator's resource types do not accept, so it is evaluated by the same engine without that
// validation (`runUnsafeSimulation`): policies and context keys are not validated either.
//
// The package lives in the folder PATCHPLANE_IAM_SIMULATE names (default .tools/iam-simulate, as
// tests/scripts/setup-iam-simulate.sh installs it), not beside this script, so it is resolved
// from there rather than by a bare import.
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const installed = process.env.PATCHPLANE_IAM_SIMULATE || join(root, '.tools', 'iam-simulate')
const require = createRequire(join(resolve(installed), 'package.json'))
let simulator
try {
  simulator = require('@cloud-copilot/iam-simulate')
} catch (e) {
  console.error(
    `@cloud-copilot/iam-simulate is not installed in ${installed}: ` +
      'run `cargo xtask setup` (or tests/scripts/setup-iam-simulate.sh)'
  )
  process.exit(2)
}
const { runSimulation, runUnsafeSimulation } = simulator

async function evaluate(request) {
  const simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.resourceAccount },
      contextVariables: request.context || {}
    },
    identityPolicies: request.identityPolicies || [],
    serviceControlPolicies: request.serviceControlPolicies || [],
    resourceControlPolicies: request.resourceControlPolicies || [],
    resourcePolicy: request.resourcePolicy || undefined
  }
  if (request.awsOwned) {
    return { decision: runUnsafeSimulation(simulation, { simulationMode: 'Strict' }), ignoredContextKeys: [] }
  }
  // Strict: the request is evaluated exactly as given, unknown context keys are absent.
  const response = await runSimulation(simulation, { simulationMode: 'Strict' })
  if (response.resultType === 'error') {
    return { error: response.errors.message, details: response.errors }
  }
  const ignored =
    response.resultType === 'single'
      ? response.result.ignoredContextKeys || []
      : response.results.flatMap((r) => r.ignoredContextKeys || [])
  return { decision: response.overallResult, ignoredContextKeys: [...new Set(ignored)] }
}

const input = JSON.parse(readFileSync(0, 'utf8'))
const output = Array.isArray(input)
  ? await Promise.all(input.map(evaluate))
  : await evaluate(input)
process.stdout.write(JSON.stringify(output) + '\n')
