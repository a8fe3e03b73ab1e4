# want: mlb.hcl:3:23: Invalid path in outputs
stage "a" {
  outputs = { model = "../model.pkl" }
  command = "true"
}
