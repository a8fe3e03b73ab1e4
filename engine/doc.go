// Package engine loads a pipeline written in HCL, builds its stage graph,
// computes stage keys, runs what changed and records every run.
//
// # Terms
//
//   - Workspace: the folder holding mlb.hcl. Every path in the pipeline is
//     relative to it; mlb finds it by walking up from the current folder.
//   - Param: a named, typed value declared with a param block. Its value
//     comes from, in rising precedence, its default, params files, the
//     environment (MLB_PARAM_<name>) and -p overrides.
//   - Stage: a command with declared inputs and outputs. A reference to
//     stage.X.outputs.Y, a depends_on entry, or an input path inside another
//     stage's output makes an edge of the graph.
//   - Stage key: the BLAKE3 digest of a canonical, versioned encoding of
//     everything a stage's result depends on: the command after
//     interpolation, declared env, the values of the params its expressions
//     reference, workdir, declared output paths, and each input's path,
//     permission bits and content digest. No absolute path inside the
//     workspace, mtime, host or user enters a key.
//   - Run: one invocation of mlb build. Its record lists, per stage, the key,
//     whether it was executed, restored or already up to date, its outputs,
//     metrics and timing. A run hash digests the pipeline source, the
//     resolved params and every stage key.
//   - Lineage: the chain from an output back through the stages and inputs
//     that produced it, as recorded in run records.
//
// Mistakes in the pipeline file or in param values are hcl.Diagnostics with
// a source range; other failures are Go errors.
package engine
