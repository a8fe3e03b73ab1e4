# want: mlb.hcl:2:11: Unclosed configuration block
stage "a" {
  command = "true"

