# want: mlb.hcl:8:23: Nested outputs
stage "a" {
  outputs = { dir = "build" }
  command = "true"
}

stage "b" {
  outputs = { model = "build/model.pkl" }
  command = "true"
}
