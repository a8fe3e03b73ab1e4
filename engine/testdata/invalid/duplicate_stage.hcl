# want: mlb.hcl:6:1: Duplicate stage train
stage "train" {
  command = "true"
}

stage "train" {
  command = "false"
}
