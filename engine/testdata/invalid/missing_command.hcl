# want: mlb.hcl:2:11: Missing required argument
stage "a" {
  outputs = { x = "x.txt" }
}
