# want: mlb.hcl:8:19: Invalid reference to stage a
stage "a" {
  outputs = { y = "a.txt" }
  command = "true"
}

stage "b" {
  inputs  = { x = stage.a.command }
  command = "true"
}
