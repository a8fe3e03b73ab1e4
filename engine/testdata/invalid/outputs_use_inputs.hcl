# want: mlb.hcl:4:19: Invalid reference to inputs
stage "a" {
  inputs  = { x = "x.txt" }
  outputs = { y = inputs.x }
  command = "true"
}
