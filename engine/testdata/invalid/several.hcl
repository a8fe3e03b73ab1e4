# Every problem in the file is reported at once.
# want: mlb.hcl:5:11: Missing required argument
# want: mlb.hcl:6:3: Unsupported argument
# want: mlb.hcl:9:11: Missing required argument
stage "a" {
  commandd = "true"
}

stage "b" {
}
