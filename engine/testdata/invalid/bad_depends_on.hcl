# want: mlb.hcl:8:17: Invalid depends_on entry
stage "a" {
  command = "true"
}

stage "b" {
  command    = "true"
  depends_on = ["a"]
}
