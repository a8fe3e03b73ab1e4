# want: mlb.hcl:3:13: Invalid path in outputs
stage "a" {
  outputs = { model = ".mlb/cache/model.pkl" }
  command = "true"
}
