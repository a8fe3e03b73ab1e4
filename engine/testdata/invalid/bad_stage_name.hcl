# want: mlb.hcl:2:7: Invalid stage name
stage "1st" {
  command = "true"
}
