# want: mlb.hcl:3:13: Empty command
stage "a" {
  command = "   "
}
