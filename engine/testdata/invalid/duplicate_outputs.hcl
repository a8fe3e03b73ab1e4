# want: mlb.hcl:8:19: Output declared twice
stage "a" {
  outputs = { model = "build/model.pkl" }
  command = "true"
}

stage "b" {
  outputs = { m = "build/model.pkl" }
  command = "true"
}
