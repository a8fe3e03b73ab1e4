# want: mlb.hcl:3:13: Invalid command
stage "a" {
  command = ["python3", { script = "train.py" }]
}
