# want: mlb.hcl:5:26: Stage a refers to itself
stage "a" {
  outputs = { y = "a.txt" }
  command = "true"
  inputs  = { previous = stage.a.outputs.y }
}
