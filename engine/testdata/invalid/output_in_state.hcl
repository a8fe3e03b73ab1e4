# want: mlb.hcl:3:23: Invalid path in outputs
stage "a" {
  outputs = { model = ".mlb/cache/model.pkl" }
  command = "true"
}
