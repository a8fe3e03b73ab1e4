# want: mlb.hcl:2:1: Dependency cycle: a -> b -> a
stage "a" {
  inputs  = { x = stage.b.outputs.y }
  outputs = { y = "a.txt" }
  command = "true"
}

stage "b" {
  inputs  = { x = stage.a.outputs.y }
  outputs = { y = "b.txt" }
  command = "true"
}
