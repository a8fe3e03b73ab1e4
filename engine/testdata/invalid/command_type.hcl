# want: mlb.hcl:3:13: Invalid command
stage "a" {
  command = { run = "train.py" }
}
