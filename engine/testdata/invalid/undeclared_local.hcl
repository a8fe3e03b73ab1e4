# want: mlb.hcl:3:13: Reference to undeclared local cmd
stage "a" {
  command = local.cmd
}
