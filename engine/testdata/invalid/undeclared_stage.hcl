# want: mlb.hcl:3:19: Reference to undeclared stage missing
stage "a" {
  inputs  = { x = stage.missing.outputs.y }
  command = "true"
}
