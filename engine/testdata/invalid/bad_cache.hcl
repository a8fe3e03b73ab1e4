# want: mlb.hcl:4:11: Invalid cache
stage "a" {
  command = "true"
  cache = "no"
}
