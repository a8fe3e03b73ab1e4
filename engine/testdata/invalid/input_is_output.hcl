# want: mlb.hcl:3:22: Path is both input and output
stage "a" {
  inputs  = { data = "data/train.csv" }
  outputs = { data = "data/train.csv" }
  command = "true"
}
